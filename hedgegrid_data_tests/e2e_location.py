"""Code location for the end-to-end tests: the trades groups and their automation, wired as in definitions.py.

Loaded by ``dagster-webserver -m hedgegrid_data_tests.e2e_location`` and ``dagster-daemon run -m ...``;
configuration comes from the environment (``HEDGEGRID_DATA_DIR``, ``HEDGEGRID_BINANCE_URL``,
``HEDGEGRID_BINANCE_LISTING_URL``), exactly as for ``hedgegrid_data.definitions``.
"""

from dagster import Definitions, in_process_executor

from hedgegrid_data.assets.binance_trades import build_binance_trades_assets
from hedgegrid_data.automation import binance_trades_dataset, build_automation
from hedgegrid_data.resources import default_resources
from hedgegrid_data.venues.binance import Market

trades_assets = {market: build_binance_trades_assets(market) for market in Market}
automation = build_automation([binance_trades_dataset(market, assets) for market, assets in trades_assets.items()])

defs = Definitions(
    assets=[a for assets in trades_assets.values() for a in assets] + automation["assets"],
    resources={**default_resources(), **automation["resources"]},
    jobs=automation["jobs"],
    schedules=automation["schedules"],
    sensors=automation["sensors"],
    executor=in_process_executor,
)
