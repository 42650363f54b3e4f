"""Download and verify files of Binance's public archive (data.binance.vision).

A file is kept only after its bytes hash to the published ``.CHECKSUM``; it lands under the raw
store in the archive's own key layout, with a provenance sidecar (URL, sha256, size, ETag,
Last-Modified, fetch time). The base may be an http(s) URL or a local mirror directory.

A server is not trusted further than that: redirects stay on the archive's host, bodies are capped,
every file has a deadline, a ``Retry-After`` is honoured only up to a ceiling, errors never quote a
body and mask the credentials of every URL they name.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from hedgegrid_data.atomic import atomic_path, atomic_write_bytes
from hedgegrid_data.errors import (
    ChecksumMismatchError,
    DownloadError,
    NotPublishedError,
)
from hedgegrid_data.secrets import redact_text
from hedgegrid_data.sources.binance_archive.layout import ArchiveFile
from hedgegrid_data.sources.http import HttpEndpoint, RetryPolicy
from hedgegrid_data.sources.provenance import Provenance, sha256_of

CHECKSUM_MAX_BYTES = 64 << 10  # a CHECKSUM is one line of ~100 bytes
ZIP_MAX_BYTES = 64 << 30  # what sources/inflation.ZipLimits lets a zip's CSV inflate to: no valid zip is larger
ZIP_DEADLINE = 15 * 60.0  # all attempts and waits for one zip: the largest daily zips (~1 GB) at ~1 MB/s
CHECKSUM_DEADLINE = 60.0


@dataclass(frozen=True)
class VerifiedFile:
    """A raw archive file on disk whose sha256 matched the published CHECKSUM."""

    archive_file: ArchiveFile
    path: Path
    provenance: Provenance
    reused: bool


ARCHIVE_FILE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,120}\.zip")


def parse_checksum(text: str, expected_name: str, source: str) -> str:
    """The sha256 of a CHECKSUM sidecar: ``<64 hex>  <file name>`` with or without trailing newline.

    An error never quotes the body (it may be anything a server answered), only a file name it names.
    """
    source = redact_text(source)
    parts = text.split()
    if len(parts) != 2 or len(parts[0]) != 64 or any(c not in "0123456789abcdef" for c in parts[0].lower()):
        raise ChecksumMismatchError(f"{source}: not a CHECKSUM line (a body of {len(text)} characters)")
    if parts[1] != expected_name:
        named = (repr(parts[1]) if ARCHIVE_FILE_NAME.fullmatch(parts[1])
                 else f"something else ({len(parts[1])} characters)")
        raise ChecksumMismatchError(f"{source}: names {named}, expected {expected_name!r}")
    return parts[0].lower()


class BinanceArchive(HttpEndpoint):
    """Fetches archive files from an http(s) base URL or a local mirror directory into ``raw_root``.

    Each file must arrive within its deadline (``zip_deadline``, ``checksum_deadline`` seconds, all
    attempts and waits included) besides the per-read ``timeout``; see ``sources/http.py``'s ``HttpEndpoint`` for redirects.
    """

    def __init__(
        self,
        base: str,
        raw_root: Path,
        *,
        retry: RetryPolicy = RetryPolicy(),
        timeout: float = 60.0,
        zip_deadline: float = ZIP_DEADLINE,
        checksum_deadline: float = CHECKSUM_DEADLINE,
        redirect_hosts: Collection[str] | None = None,
    ):
        super().__init__(base, timeout=timeout, retry=retry, redirect_hosts=redirect_hosts)
        self.raw_root = raw_root
        self.zip_deadline = zip_deadline
        self.checksum_deadline = checksum_deadline

    def url(self, key: str) -> str:
        return f"{self.base}/{key}" if not self.is_local else str(Path(self.base, key).absolute())

    def shown_url(self, key: str) -> str:
        """The URL of ``key`` as an error or a provenance record may show it (credentials masked)."""
        return f"{self.shown_base}/{key}" if not self.is_local else self.url(key)

    def local_path(self, archive_file: ArchiveFile) -> Path:
        return self.raw_root / archive_file.key

    def fetch_verified(self, archive_file: ArchiveFile) -> VerifiedFile:
        """Download ``archive_file`` and its CHECKSUM, verify, and keep it; reuse an identical local copy."""
        checksum = self._get_checksum(archive_file.checksum_key)
        expected = parse_checksum(checksum.decode("utf-8", "replace"), archive_file.file_name,
                                  self.shown_url(archive_file.checksum_key))
        target = self.local_path(archive_file)
        known = Provenance.read(target)
        if known is not None and known.sha256 == expected and target.exists():
            return VerifiedFile(archive_file, target, known, reused=True)

        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as tmp:
            headers = self._download(archive_file.key, tmp)
            digest, size = sha256_of(tmp)
            if digest != expected:
                raise ChecksumMismatchError(
                    f"{self.shown_url(archive_file.key)}: sha256 {digest} does not match the published CHECKSUM "
                    f"{expected} ({size} bytes received); nothing was kept"
                )
        provenance = Provenance(
            url=self.shown_url(archive_file.key),
            sha256=digest,
            size=size,
            etag=headers.get("etag"),
            last_modified=headers.get("last-modified"),
            fetched_at=dt.datetime.now(dt.timezone.utc).isoformat(),
        )
        atomic_write_bytes(target.with_name(target.name + ".CHECKSUM"), checksum)
        provenance.write(target)
        return VerifiedFile(archive_file, target, provenance, reused=False)

    def _get_checksum(self, key: str) -> bytes:
        if self.is_local:
            path = self._local_source(key)
            if path.stat().st_size > CHECKSUM_MAX_BYTES:
                raise DownloadError(f"{path}: a CHECKSUM of {path.stat().st_size} bytes, more than the "
                                    f"{CHECKSUM_MAX_BYTES} bytes one can be: not read")
            return path.read_bytes()
        body, _ = self._get(self.url(key), what="CHECKSUM", deadline=self.checksum_deadline,
                            max_bytes=CHECKSUM_MAX_BYTES)
        return body

    def _download(self, key: str, dest: Path) -> dict[str, str]:
        if self.is_local:
            source = self._local_source(key)
            shutil.copyfile(source, dest)
            stat = source.stat()
            mtime = dt.datetime.fromtimestamp(stat.st_mtime, dt.timezone.utc)
            return {"last-modified": mtime.strftime("%a, %d %b %Y %H:%M:%S GMT")}
        _, headers = self._get(self.url(key), what="zip", deadline=self.zip_deadline, max_bytes=ZIP_MAX_BYTES,
                               dest=dest)
        return {k.lower(): v for k, v in headers.items()}

    def _local_source(self, key: str) -> Path:
        path = Path(self.url(key))
        if not path.exists():
            raise NotPublishedError(f"{path}: not in the local mirror (not published yet?)")
        return path


def remove_local(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".CHECKSUM"), Provenance.path_for(path)):
        if p.exists():
            os.remove(p)
