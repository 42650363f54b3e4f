"""Download and verify Bybit archive files.

Bybit publishes no checksum, so a file is verified by itself: it must inflate completely, every gzip member's
CRC-32 and length trailer matching what it inflates to (a truncated or corrupted body fails). Only then is it
kept under the raw store, with its provenance (URL, sha256, size, ETag, Last-Modified, fetch time, and the
inflated CSV's length, CRC-32 and sha256); the re-publication sensor compares ETag and size with it later.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

from zlib_ng import zlib_ng

from hedgegrid_data.atomic import atomic_path
from hedgegrid_data.errors import ChecksumMismatchError
from hedgegrid_data.secrets import redact_url
from hedgegrid_data.sources.bybit_archive.layout import BybitFile
from hedgegrid_data.sources.http import USER_AGENT, HttpEndpoint, RetryPolicy
from hedgegrid_data.sources.inflation import DEFAULT_ZIP_LIMITS, ZipLimits
from hedgegrid_data.sources.provenance import Provenance, now_text, sha256_of

CHUNK = 1 << 20
GZIP_WBITS = 31  # zlib: a gzip wrapper, whose CRC-32 and length trailer zlib checks


@dataclass(frozen=True)
class GzipFacts:
    """What a gzip file inflated to: its members, and the CSV's length, CRC-32 and sha256."""

    members: int
    csv_bytes: int
    csv_crc32: str
    csv_sha256: str


def verify_gzip(path: Path, name: str, limits: ZipLimits = DEFAULT_ZIP_LIMITS) -> GzipFacts:
    """Inflate ``path`` whole, a chunk at a time and within ``limits``; raise ``ChecksumMismatchError`` unless it is
    one or more complete gzip members whose trailers match their content, with nothing after them, and
    ``ArchiveDataError`` for a bomb."""
    digest, crc, size, members, read = hashlib.sha256(), 0, 0, 0, 0
    inflater = zlib_ng.decompressobj(GZIP_WBITS)
    started = False  # the current member has taken input (its trailer is still due)
    try:
        with path.open("rb") as f:
            data = b""
            while True:
                if not data:
                    data = f.read(CHUNK)
                    read += len(data)
                    if not data and not started:
                        break  # the file ends between members
                started = started or bool(data)
                out = inflater.decompress(data, CHUNK)  # never more than a chunk out of one call
                data = inflater.unconsumed_tail
                digest.update(out)
                crc, size = zlib_ng.crc32(out, crc), size + len(out)
                limits.check(name, "the gzip", size, read)
                if inflater.eof:
                    members += 1
                    data, inflater, started = inflater.unused_data, zlib_ng.decompressobj(GZIP_WBITS), False
                elif not out and not data and not f.peek(1):
                    break  # nothing more comes in or out before the member's trailer: truncated
    except (zlib.error, zlib_ng.error) as exc:
        raise ChecksumMismatchError(f"{name}: corrupt gzip ({exc}); nothing was kept") from None
    if started or members == 0:
        raise ChecksumMismatchError(f"{name}: truncated gzip: it ends before its CRC-32 and length trailer "
                                    f"({size} bytes inflated); nothing was kept")
    return GzipFacts(members, size, f"{crc:08x}", digest.hexdigest())


@dataclass(frozen=True)
class VerifiedFile:
    """A raw archive file on disk whose gzip verified; ``provenance`` is kept beside it."""

    file: BybitFile
    path: Path
    provenance: Provenance


class BybitArchive(HttpEndpoint):
    """Fetches archive files from an http(s) base URL or a local mirror directory into ``raw_root``."""

    def __init__(self, base: str, raw_root: Path, *, retry: RetryPolicy = RetryPolicy(), timeout: float = 60.0,
                 user_agent: str = USER_AGENT):
        super().__init__(base, timeout=timeout, retry=retry, user_agent=user_agent)
        self.raw_root = raw_root

    def fetch_verified(self, file: BybitFile) -> VerifiedFile:
        """Download ``file``, verify its gzip and keep it with its provenance (replacing an earlier copy)."""
        target = self.raw_root / file.key
        with atomic_path(target) as tmp:
            served = self.download(file.key, tmp)
            facts = verify_gzip(tmp, file.file_name)
            sha256, size = sha256_of(tmp)
        provenance = Provenance(redact_url(self.url(file.key)), sha256, size, served.etag, served.last_modified,
                                now_text(), asdict(facts))
        provenance.write(target)
        return VerifiedFile(file, target, provenance)
