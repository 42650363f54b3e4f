"""Dagster definitions: wiring only."""

from dagster import Definitions, in_process_executor

from hedgegrid_data import settings
from hedgegrid_data.assets.binance_agg_trades import build_binance_agg_trades_assets
from hedgegrid_data.assets.binance_funding import build_binance_funding_assets
from hedgegrid_data.assets.binance_klines import (
    build_binance_klines_assets,
    build_binance_price_index_groups,
)
from hedgegrid_data.assets.binance_reconciliation import (
    build_binance_reconciliation_asset,
)
from hedgegrid_data.assets.binance_trades import build_binance_trades_assets
from hedgegrid_data.automation import (
    binance_agg_trades_dataset,
    binance_funding_dataset,
    binance_klines_dataset,
    binance_price_index_dataset,
    binance_trades_dataset,
    build_automation,
)
from hedgegrid_data.resources import default_resources
from hedgegrid_data.venues.binance import FUTURES_MARKETS, Market

kline_intervals = settings.kline_intervals()
trades = {m: build_binance_trades_assets(m) for m in Market}
agg_trades = {m: build_binance_agg_trades_assets(m) for m in Market}
klines = {m: build_binance_klines_assets(m, kline_intervals) for m in Market}
price_index = {(m, data_type, group): assets for m in FUTURES_MARKETS
               for (data_type, group), assets in build_binance_price_index_groups(m).items()}
funding = {m: build_binance_funding_assets(m) for m in FUTURES_MARKETS}

automation = build_automation([
    *(binance_trades_dataset(m, assets) for m, assets in trades.items()),
    *(binance_agg_trades_dataset(m, assets) for m, assets in agg_trades.items()),
    *(binance_klines_dataset(m, assets, kline_intervals) for m, assets in klines.items()),
    *(binance_price_index_dataset(m, data_type, group, assets) for (m, data_type, group), assets in price_index.items()),
    *(binance_funding_dataset(m, assets) for m, assets in funding.items()),
])

defs = Definitions(
    assets=[
        *(a for group in (trades, agg_trades, klines, price_index, funding) for assets in group.values() for a in assets),
        *(build_binance_reconciliation_asset(market) for market in Market),
        *automation["assets"],
    ],
    resources={**default_resources(), **automation["resources"]},
    jobs=automation["jobs"],
    schedules=automation["schedules"],
    sensors=automation["sensors"],
    executor=in_process_executor,
)
