"""Where the trades pipeline's CPU time goes: each stage alone, on the benchmark's generated day.

    python bench/trades_stages.py [--size 1000000] [--market um] [--workdir DIR] [--repeat 5]

Uses the archive ``trades_ingest.py`` generates (cached in the same workdir) and only the pipeline's own
public functions. Each measurement runs ``--repeat`` times in this process and reports the least CPU time
(user + system, every thread: the zip is inflated on a worker thread); stages that cannot run alone are the
difference of two cumulative measurements. The sum is below the pipeline's CPU time in ``trades_ingest.py``:
that also pays the threads' hand-offs and, in a fresh process, the kernel zeroing fresh memory.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from trades_ingest import DEFAULT_WORKDIR, Case, ensure_archive

from hedgegrid_data.epochs import day_bounds_ns
from hedgegrid_data.sources.binance_archive.layout import trades_columns
from hedgegrid_data.venues.binance import Market


def least_cpu(run: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--market", choices=[m.value for m in Market], default=Market.USDM.value)
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import polars as pl
    import pyarrow as pa

    from hedgegrid_data.catalog.trade_ticks import (
        trade_tick_batch,
        trade_tick_day_sink,
        trade_tick_schema,
    )
    from hedgegrid_data.quality.trades import TradeCheckThresholds, TradesDayChecker
    from hedgegrid_data.sources.binance_archive.archive_csv import iter_text_blocks
    from hedgegrid_data.sources.binance_archive.trades import (
        TradesDaySummary,
        iter_normalized_trades,
        pandera_trades_schema,
        write_normalized_trades,
    )
    from hedgegrid_data.venues.binance import build_instrument
    from hedgegrid_data.venues.symbols import symbol_spec

    case = Case(args.workdir, Market(args.market), args.size)
    ensure_archive(case)
    archive_file, zip_path = case.archive_file, case.zip_path
    spec = symbol_spec(case.market, case.symbol)
    instrument = build_instrument(spec)
    batches = list(iter_normalized_trades(zip_path, archive_file, spec, TradesDaySummary()))
    ticks = trade_tick_schema(instrument)

    def write_ticks() -> None:
        with tempfile.TemporaryDirectory() as root:
            with trade_tick_day_sink(Path(root), instrument, archive_file.day) as write:
                for batch in batches:
                    write(batch)

    def check() -> None:
        checker = TradesDayChecker(day_bounds_ns(archive_file.day), TradeCheckThresholds.for_market(case.market.value))
        for batch in batches:
            checker.add(batch)
        checker.verdicts()

    def normalize_to_parquet() -> None:
        with tempfile.TemporaryDirectory() as root:
            write_normalized_trades(zip_path, archive_file, spec, Path(root) / "day.parquet")

    rules = pandera_trades_schema(spec, archive_file.day)
    measured = {
        "text": least_cpu(lambda: list(iter_text_blocks(zip_path, trades_columns(spec.market))), args.repeat),
        "normalized": least_cpu(
            lambda: list(iter_normalized_trades(zip_path, archive_file, spec, TradesDaySummary())), args.repeat),
        "tick_batches": least_cpu(lambda: [trade_tick_batch(b, ticks) for b in batches], args.repeat),
        "tick_file": least_cpu(write_ticks, args.repeat),
        "checks": least_cpu(check, args.repeat),
        "pandera": least_cpu(lambda: rules.validate(pl.from_arrow(pa.Table.from_batches(batches))), args.repeat),
        "normalized_file": least_cpu(normalize_to_parquet, args.repeat),
    }
    stages = {
        "inflate + CSV tokenizing (zip → text columns)": measured["text"],
        "text → exact types, order check": measured["normalized"] - measured["text"],
        "TradeTick conversion": measured["tick_batches"],
        "TradeTick parquet write": measured["tick_file"] - measured["tick_batches"],
        "normalized parquet write, with the pass's thread hand-offs": (
            measured["normalized_file"] - measured["normalized"] - measured["pandera"]),
        "quality checks": measured["checks"],
        "pandera validation": measured["pandera"],
    }
    print(f"CPU seconds per stage, {args.size:,} {case.market.value} trades (least of {args.repeat}):\n")
    print("| stage | CPU s |\n|---|---:|")
    for stage, seconds in stages.items():
        print(f"| {stage} | {seconds:.3f} |")
    print(f"| **sum** | **{sum(stages.values()):.3f}** |")


if __name__ == "__main__":
    main()
