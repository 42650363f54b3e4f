"""The entry point of ``hedgegrid-data`` (``[project.scripts]`` in pyproject.toml): parses the command line,
applies ``--data-dir`` and ``--config`` to the environment the settings read, and runs the command.

Exit codes: 0 every day published (``ingest``) or the command succeeded; 1 some day failed; 2 a usage error
(an unknown source, market, data type or symbol, a bad day).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

from hedgegrid_data.cli import universe
from hedgegrid_data.cli.selection import DATA_TYPES, SelectionError, parse_day, select, split_list
from hedgegrid_data.errors import HedgegridDataError

DESCRIPTION = "Ingest crypto market data into the NautilusTrader catalog and report what it holds."
EXAMPLES = """examples:
  hedgegrid-data ingest --source binance --market um --symbol BTCUSDT --start 2024-01-02 --end 2024-01-08 \\
      --data-types trades,bars,mark,funding
  hedgegrid-data ingest --source bybit --market linear --symbol BTCUSDT --start 2025-09-02 --via-dagster
  hedgegrid-data status --json
  hedgegrid-data universe --market um --data-type trades
"""


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="root of everything written (sets HEDGEGRID_DATA_DIR; "
                                                      "default: that variable, else ./data)")
    parser.add_argument("--config", type=Path, help="the local imports file, TOML with [[csv]] and [[websocket]] "
                                                    "tables (sets HEDGEGRID_IMPORTS)")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="hedgegrid-data", description=DESCRIPTION,
                                   epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = root.add_subparsers(dest="command", required=True, metavar="{ingest,status,universe}")

    ingest = commands.add_parser("ingest", help="fetch, normalize and publish days, one after the other",
                                 description="Fetch, normalize and publish the days from --start to --end "
                                             "(both included, UTC) of each data type and symbol; each day is "
                                             "published atomically; exit 1 if any day failed.")
    ingest.add_argument("--source", required=True, help="a configured source: binance, bybit, csv, websocket, "
                                                        "tardis, ...")
    ingest.add_argument("--market", help="the source's market (binance: spot, um, cm; bybit: linear, inverse, "
                                         "spot); needed when the source has several")
    ingest.add_argument("--symbol", action="append", required=True,
                        help="symbol(s), comma-separated or repeated, as configured (e.g. BTCUSDT)")
    ingest.add_argument("--start", required=True, help="first UTC day, YYYY-MM-DD")
    ingest.add_argument("--end", help="last UTC day, included (default: --start)")
    ingest.add_argument("--data-types", action="append", default=None,
                        help=f"comma-separated: {', '.join(DATA_TYPES)} (default: trades)")
    ingest.add_argument("--via-dagster", action="store_true",
                        help="run each day as a materialization in the Dagster instance of DAGSTER_HOME "
                             "(the UI shows them)")
    _common(ingest)

    status = commands.add_parser("status", help="per venue, symbol and data type: days held, missing days, "
                                                "latest quality, freshness")
    status.add_argument("--source", help="only this source")
    status.add_argument("--market", help="only this market")
    status.add_argument("--symbol", action="append", help="only these symbols (comma-separated or repeated)")
    status.add_argument("--json", action="store_true", help="a JSON array instead of a table")
    status.add_argument("--now", help=argparse.SUPPRESS)  # an ISO time to judge freshness against (tests)
    _common(status)

    listing = commands.add_parser("universe", help="the Binance archive's symbols and first days",
                                  description=universe.__doc__.split("\n")[0])
    universe.add_arguments(listing)
    return root


def _apply_environment(args: argparse.Namespace) -> None:
    """``--data-dir`` and ``--config`` as the variables every setting (and a Dagster run) reads."""
    if getattr(args, "data_dir", None):
        os.environ["HEDGEGRID_DATA_DIR"] = str(args.data_dir.absolute())
    if getattr(args, "config", None):
        if not args.config.is_file():
            raise SelectionError(f"--config {args.config}: no such file")
        os.environ["HEDGEGRID_IMPORTS"] = str(args.config.absolute())


def configured():
    """Every configured feed (the registry ``definitions.py`` builds its groups from), loaded as the entry points
    load (``startup.loading``)."""
    from hedgegrid_data.startup import loading

    with loading():
        from hedgegrid_data.feeds.configured import configured_feeds

        return configured_feeds()


def _store():
    from hedgegrid_data import settings
    from hedgegrid_data.store import DataStore

    return DataStore(settings.data_dir())


def run_ingest(args: argparse.Namespace) -> int:
    from hedgegrid_data.cli.ingest import ingest, ingest_via_dagster
    from hedgegrid_data.cli.progress import DayResult, progress_for, summary

    start = parse_day(args.start, "--start")
    end = parse_day(args.end, "--end") if args.end else start
    selection = select(configured(), args.source, args.market, split_list(args.data_types) or ["trades"],
                       split_list(args.symbol), start, end)
    if args.via_dagster and not os.environ.get("DAGSTER_HOME"):
        raise SelectionError("--via-dagster records runs in the Dagster instance of DAGSTER_HOME: set it "
                             "(e.g. DAGSTER_HOME=$PWD to use this repository's dagster.yaml)")
    units = selection.units()
    what = (f"{', '.join(f.name for f in selection.feeds)} × {', '.join(selection.symbols)}, "
            f"{start} … {end}" + (", via Dagster" if args.via_dagster else ""))
    began = time.monotonic()
    store = _store()
    progress = progress_for(sys.stdout, len(units), what)
    results: list[DayResult] = []

    def finished(result: DayResult) -> None:
        results.append(result)
        progress.finished(result)

    interrupted = False
    try:
        if args.via_dagster:
            ingest_via_dagster(selection, store, progress.started, finished)
        else:
            ingest(selection, store, progress.started, finished)
    except KeyboardInterrupt:  # the days done so far are published; say so and which
        interrupted = True
    finally:
        progress.close()
    summary(sys.stdout, results, time.monotonic() - began)
    if interrupted:
        print(f"interrupted after {len(results)} of {len(units)} day(s)", file=sys.stderr)
        return 130
    return 0 if len(results) == len(units) and all(r.ok for r in results) else 1


def run_status(args: argparse.Namespace) -> int:
    import json

    from hedgegrid_data.cli.selection import source_feeds
    from hedgegrid_data.cli.status import print_table, status

    now = dt.datetime.fromisoformat(args.now) if args.now else dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    feeds = list(configured())
    if args.source:
        feeds = source_feeds(feeds, args.source, args.market)
    elif args.market:
        feeds = [f for f in feeds if f.market == args.market]
    rows = status(feeds, _store(), now, split_list(args.symbol))
    if args.json:
        json.dump(rows, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print_table(sys.stdout, rows, now)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        _apply_environment(args)
        if args.command == "ingest":
            return run_ingest(args)
        if args.command == "status":
            return run_status(args)
        return universe.run(args)
    except SelectionError as exc:
        print(f"hedgegrid-data {args.command}: {exc}", file=sys.stderr)
        return 2
    except HedgegridDataError as exc:  # before any day ran (a resource the selected feeds need is missing)
        print(f"hedgegrid-data {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
