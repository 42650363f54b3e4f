"""``hedgegrid-data universe``: the Binance archive's symbols (and each one's first day) for a market and data type.

    hedgegrid-data universe --market um --data-type trades
    hedgegrid-data universe --market spot --data-type klines --interval 1m --json
    hedgegrid-data universe --market cm --data-type fundingRate --monthly --no-first-dates

Reads the S3 listing at ``--listing-url`` (default ``HEDGEGRID_BINANCE_LISTING_URL``, else the public
bucket, or the local mirror when ``HEDGEGRID_BINANCE_URL`` is a directory). One request per listing page
plus one per symbol for its first file. (Formerly ``python -m hedgegrid_data.universe``, which still works.)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

from hedgegrid_data import settings
from hedgegrid_data.sources.binance_archive.layout import ArchiveFile
from hedgegrid_data.sources.binance_archive.listing import ArchiveListing
from hedgegrid_data.sources.binance_archive.universe import archive_universe, symbol_folders
from hedgegrid_data.venues.binance import Market


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--market", required=True, choices=[m.value for m in Market])
    parser.add_argument("--data-type", required=True, help="archive type folder: trades, aggTrades, klines, ...")
    parser.add_argument("--interval", help="kline interval for kline-like types, e.g. 1m")
    parser.add_argument("--monthly", action="store_true", help="monthly files instead of daily")
    parser.add_argument("--listing-url", default=None, help="S3 listing endpoint or local mirror directory")
    parser.add_argument("--symbol", action="append", dest="symbols", help="only this symbol (repeatable)")
    parser.add_argument("--no-first-dates", action="store_true", help="symbols only (one listing, fast)")
    parser.add_argument("--json", action="store_true", help="JSON array instead of tab-separated lines")


def run(args: argparse.Namespace) -> int:
    market = Market(args.market)

    def archive_file(day: dt.date, symbol: str) -> ArchiveFile:
        return ArchiveFile(market, args.data_type, symbol, day, interval=args.interval, monthly=args.monthly)

    root, folder_for = symbol_folders(archive_file, dt.date(2020, 1, 1))
    with ArchiveListing(args.listing_url or settings.binance_listing_url()) as listing:
        rows = archive_universe(listing, root, folder_for, first_dates=not args.no_first_dates,
                                symbols=args.symbols)
    if args.json:
        json.dump([r.to_json() for r in rows], sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        for row in rows:
            sys.stdout.write(f"{row.symbol}\t{row.first_date or ''}\n")
    if not rows:
        print(f"no symbols listed under {root}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None, prog: str = "hedgegrid-data universe") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))
