"""The deployment's feeds: every source's feeds as configured by the environment, in one registry.

``definitions.py`` makes the Dagster assets of these feeds and the command line runs their days; both take them
from here, so a source's feeds are listed once. Building them imports no Dagster.
"""

from __future__ import annotations

from hedgegrid_data import settings
from hedgegrid_data.feeds.registry import FeedRegistry


def configured_feeds() -> FeedRegistry:
    """Every feed of every source, as the settings (symbols files, trade source, imports file) configure them."""
    from hedgegrid_data.sources.binance_archive.feeds import archive_feeds
    from hedgegrid_data.sources.bybit_archive.feeds import bybit_feeds
    from hedgegrid_data.sources.csv.feeds import csv_feeds
    from hedgegrid_data.sources.tardis.feeds import tardis_feeds
    from hedgegrid_data.sources.websocket.feeds import websocket_feeds

    feeds = [*archive_feeds(settings.kline_intervals(), settings.trade_source()), *bybit_feeds(), *tardis_feeds()]
    feeds += websocket_feeds(settings.imports_file(), feeds)
    return FeedRegistry([*feeds, *csv_feeds(settings.imports_file(), feeds)])
