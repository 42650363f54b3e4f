"""Cross-dataset reconciliation per market: one daily-partitioned asset whose checks compare the normalized
trades, aggTrades, 1m klines, funding rates and mark prices of the day (group ``binance_<market>_reconciliation``)."""

from collections.abc import Iterable

from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    asset,
)

from hedgegrid_data.assets.common import check_result, fail_closed
from hedgegrid_data.feeds.feed import Feed
from hedgegrid_data.partitions import day_and_symbol
from hedgegrid_data.resources import DataStoreResource
from hedgegrid_data.sources.binance_archive.feeds import archive_partitions
from hedgegrid_data.sources.binance_archive.layout import SOURCE
from hedgegrid_data.sources.binance_archive.reconciliation_day import reconcile_day, reconciliation_group
from hedgegrid_data.venues.binance import Market

CHECKS = (
    ("klines_match_trades", "1m bars rebuilt from the trades equal the archive's 1m klines."),
    ("agg_trades_match_trades", "aggTrades equal the sums of the trades they aggregate, and chain."),
    ("funding_has_mark_price", "Every funding event has a mark price (a 1m mark bar's open or close) within a "
                               "minute before it."),
)


def build_binance_reconciliation_asset(market: Market, feeds: Iterable[Feed]) -> AssetsDefinition:
    """``feeds``: the deployment's archive feeds; a mismatch withholds the days the judged ones publish."""
    feeds = [f for f in feeds if f.source.name == SOURCE and f.market == market.value]
    name = reconciliation_group(market)
    checks = [c for c in CHECKS if market is not Market.SPOT or c[0] != "funding_has_mark_price"]
    inputs = ["trades", "agg_trades", "klines"] + (["funding_rate", "mark_price_klines"] if market is not Market.SPOT
                                                   else [])

    @asset(
        name=name,
        group_name=name,
        partitions_def=archive_partitions(market),
        deps=[AssetKey(f"binance_{market.value}_{dataset}_normalized") for dataset in inputs],
        kinds={"polars"},
        description=f"Binance {market.value}: the day's datasets agree with each other; a mismatch withholds the "
                    "day of the datasets it compared from the catalog (trades and bars, trades and aggTrades, "
                    "funding and mark prices).",
        check_specs=[AssetCheckSpec(check, asset=name, blocking=True, description=text) for check, text in checks],
    )
    def reconciliation(context: AssetExecutionContext, data_store: DataStoreResource) -> MaterializeResult:
        day, symbol = day_and_symbol(context.partition_key)
        with fail_closed():
            verdicts = reconcile_day(data_store.store, market, symbol, day, feeds)
        return MaterializeResult(
            metadata={"applicable_checks": sum(v.metadata.get("applicable", True) for v in verdicts),
                      "failed_checks": sum(not v.passed for v in verdicts)},
            check_results=[check_result(v) for v in verdicts],
        )

    return reconciliation
