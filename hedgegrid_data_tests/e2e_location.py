"""Code location for the end-to-end tests: the trades feeds and their automation, wired as in definitions.py.

Loaded by ``dagster-webserver -m hedgegrid_data_tests.e2e_location`` and ``dagster-daemon run -m ...``;
configuration comes from the environment (``HEDGEGRID_DATA_DIR``, ``HEDGEGRID_BINANCE_URL``,
``HEDGEGRID_BINANCE_LISTING_URL``, ``HEDGEGRID_ALERT_WEBHOOK``), exactly as for ``hedgegrid_data.definitions``.
"""

from dagster import Definitions, in_process_executor

from hedgegrid_data.assets.factory import build_feed_assets
from hedgegrid_data.automation import build_automation
from hedgegrid_data.feeds.registry import FeedRegistry
from hedgegrid_data.resources import default_data_store
from hedgegrid_data.sources.binance_archive.feeds import trades_feed
from hedgegrid_data.sources.binance_archive.resources import default_archive_resources
from hedgegrid_data.venues.binance import Market

feeds = FeedRegistry(trades_feed(market) for market in Market)
automation = build_automation(feeds)

defs = Definitions(
    assets=[a for feed in feeds for a in build_feed_assets(feed)] + automation["assets"],
    resources={"data_store": default_data_store(), **default_archive_resources(), **automation["resources"]},
    jobs=automation["jobs"],
    schedules=automation["schedules"],
    sensors=automation["sensors"],
    executor=in_process_executor,
)
