"""How far a compressed source file may inflate: a file is hostile until read, and a small zip or gzip must not
make a reader hold gigabytes. Every reader of a compressed source checks its output against these limits as it
inflates, whatever the file's headers declare."""

from __future__ import annotations

from dataclasses import dataclass

from hedgegrid_data.errors import ArchiveDataError


@dataclass(frozen=True)
class ZipLimits:
    """How far a compressed file's CSV (a zip member, a gzip) may inflate before it is refused as a bomb.

    Real archive CSVs inflate 3-8x (trades, aggTrades) and at most ~21x (a day of flat 1s klines with
    zero volume), so 200:1 leaves ten times the headroom and still refuses deflate's ~1000:1 bombs. The
    ratio is checked once more than ``ratio_floor`` bytes came out (tiny files say nothing). A daily
    trades CSV of the busiest symbol is a few GiB; 64 GiB bounds the work a lying file can cause. No
    archive line comes near 1 KiB, so 1 MiB is a line that is not CSV.
    """

    max_inflated_bytes: int = 64 << 30
    max_ratio: float = 200.0
    ratio_floor: int = 1 << 20
    max_line_bytes: int = 1 << 20

    def check(self, file: str, member: str, inflated: int, compressed: int, declared: bool = False) -> None:
        said = "declares" if declared else "inflates to"
        if inflated > self.max_inflated_bytes:
            raise ArchiveDataError(file, f"zip bomb refused: {member} {said} more than {self.max_inflated_bytes} "
                                         f"bytes ({inflated} {'declared' if declared else 'so far'})")
        if inflated > self.ratio_floor and inflated > self.max_ratio * max(compressed, 1):
            raise ArchiveDataError(file, f"zip bomb refused: {member} {said} {inflated} bytes from {compressed} "
                                         f"compressed, more than {self.max_ratio:g}:1")


DEFAULT_ZIP_LIMITS = ZipLimits()
