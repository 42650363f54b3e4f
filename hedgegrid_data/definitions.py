"""Dagster definitions: wiring only."""

from dagster import Definitions, in_process_executor

from hedgegrid_data import settings
from hedgegrid_data.assets.binance_agg_trades import build_binance_agg_trades_assets
from hedgegrid_data.assets.binance_funding import build_binance_funding_assets
from hedgegrid_data.assets.binance_klines import build_binance_klines_assets, build_binance_mark_price_assets
from hedgegrid_data.assets.binance_reconciliation import build_binance_reconciliation_asset
from hedgegrid_data.assets.binance_trades import build_binance_trades_assets
from hedgegrid_data.automation import binance_trades_dataset, build_automation
from hedgegrid_data.markets import FUTURES_MARKETS, Market
from hedgegrid_data.resources import default_resources

trades_assets = {market: build_binance_trades_assets(market) for market in Market}
automation = build_automation([binance_trades_dataset(market, assets) for market, assets in trades_assets.items()])

defs = Definitions(
    assets=[
        *(a for assets in trades_assets.values() for a in assets),
        *(a for market in Market for a in build_binance_agg_trades_assets(market)),
        *(a for market in Market for a in build_binance_klines_assets(market, settings.kline_intervals())),
        *(a for market in FUTURES_MARKETS for a in build_binance_mark_price_assets(market)),
        *(a for market in FUTURES_MARKETS for a in build_binance_funding_assets(market)),
        *(build_binance_reconciliation_asset(market) for market in Market),
        *automation["assets"],
    ],
    resources={**default_resources(), **automation["resources"]},
    jobs=automation["jobs"],
    schedules=automation["schedules"],
    sensors=automation["sensors"],
    executor=in_process_executor,
)
