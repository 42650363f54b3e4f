"""Download and verify Tardis dataset files (datasets.tardis.dev) with the hardened HTTP client of
``sources/http.py``: retries with backoff on 429, 5xx, timeouts and truncated bodies; 401 fails at once.

The API key (``TARDIS_API_KEY``) travels only in the ``Authorization`` header: never in a URL, an error, the
provenance or metadata. Without a key Tardis serves only the first day of each month: other days fail at once with
a message saying so, without asking. Tardis publishes no checksum: a file is kept only if its gzip inflates whole,
every member's CRC-32 and length trailer matching (the Bybit archive's verification); its provenance (URL, sha256,
size, ETag, Last-Modified, CSV length/CRC-32/sha256) is kept beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from hedgegrid_data.atomic import atomic_path
from hedgegrid_data.errors import DownloadError, NotPublishedError
from hedgegrid_data.secrets import redact_url
from hedgegrid_data.sources.bybit_archive.download import verify_gzip
from hedgegrid_data.sources.http import USER_AGENT, HttpEndpoint, RetryPolicy, Served
from hedgegrid_data.sources.provenance import Provenance, now_text, sha256_of
from hedgegrid_data.sources.tardis.layout import DatasetFile, is_free

DEFAULT_DATASETS_URL = "https://datasets.tardis.dev"


class KeyRequired(NotPublishedError):
    """The day is not free and no API key is configured."""


def key_required(file: DatasetFile) -> KeyRequired:
    return KeyRequired(f"{file.file_name}: Tardis serves only the first day of each month without an API key; "
                       f"set TARDIS_API_KEY to download {file.day}")


@dataclass(frozen=True)
class VerifiedFile:
    file: DatasetFile
    path: Path
    provenance: Provenance


class TardisDatasets(HttpEndpoint):
    """Dataset files from ``base`` (datasets.tardis.dev or a loopback fake) into ``raw_root``."""

    def __init__(self, base: str, raw_root: Path, api_key: str = "", *, retry: RetryPolicy | None = None,
                 timeout: float = 60.0, user_agent: str = USER_AGENT, redirect_hosts: Sequence[str] = ()):
        super().__init__(base, timeout=timeout, retry=retry or RetryPolicy(), user_agent=user_agent,
                         redirect_hosts=redirect_hosts)
        if self.is_local:
            raise ValueError("the Tardis datasets base must be an http(s) URL")
        self.raw_root = raw_root
        self.has_key = bool(api_key)
        if api_key:
            assert self._client is not None
            self._client.headers["Authorization"] = f"Bearer {api_key}"

    def _refused_key(self, file: DatasetFile, exc: DownloadError) -> DownloadError:
        if "HTTP 401" not in str(exc):
            return exc
        why = ("the configured TARDIS_API_KEY was refused" if self.has_key else
               "no TARDIS_API_KEY is configured and Tardis asks for one")
        return DownloadError(f"{redact_url(self.url(file.url_key))}: HTTP 401 Unauthorized: {why}; not retried")

    def fetch_verified(self, file: DatasetFile) -> VerifiedFile:
        """Download ``file``, verify its gzip and keep it with its provenance (replacing an earlier copy)."""
        if not self.has_key and not is_free(file.day):
            raise key_required(file)
        target = self.raw_root / file.key
        with atomic_path(target) as tmp:
            try:
                served = self.download(file.url_key, tmp)
            except NotPublishedError:
                raise
            except DownloadError as exc:
                raise self._refused_key(file, exc) from None
            facts = verify_gzip(tmp, file.file_name)
            sha256, size = sha256_of(tmp)
        provenance = Provenance(redact_url(self.url(file.url_key)), sha256, size, served.etag, served.last_modified,
                                now_text(), asdict(facts))
        provenance.write(target)
        return VerifiedFile(file, target, provenance)

    def served_file(self, file: DatasetFile) -> Served | None:
        return self.served(file.url_key)
