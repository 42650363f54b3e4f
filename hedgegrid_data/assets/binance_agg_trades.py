"""Binance aggTrades, one asset group per market: raw archive zip → aggregated-trades table → Nautilus TradeTicks.

Groups ``binance_spot_agg_trades``, ``binance_um_agg_trades`` and ``binance_cm_agg_trades``; asset
keys ``binance_<market>_agg_trades_{raw,normalized,catalog,quality_report}``. The catalog asset publishes
the instrument's ``TradeTick`` day only when the ``trade_source`` resource says ``aggTrades``; with the
default ``trades`` it records that it published nothing and leaves the catalog alone.

The normalized asset carries the trades quality checks over the aggregates (``agg_trade_id_gaps`` blocking,
the others WARN), the catalog asset the blocking ``catalog_integrity`` check.
"""

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    MaterializeResult,
    asset,
)
from nautilus_trader.model.data import TradeTick

from hedgegrid_data.assets.common import (
    build_quality_report_asset,
    check_result,
    fail_closed,
    not_published_result,
    path_metadata,
    publication_check_specs,
    published_day_result,
    quality_metadata,
)
from hedgegrid_data.assets.raw_archive import (
    build_raw_archive_asset,
    daily_archive_files,
)
from hedgegrid_data.epochs import utc_text
from hedgegrid_data.partitions import daily_symbol_partitions, day_and_symbol
from hedgegrid_data.resources import DataStoreResource, TradeSourceResource
from hedgegrid_data.sources.binance_archive.agg_trades import DATA_TYPE
from hedgegrid_data.sources.binance_archive.agg_trades_day import (
    normalize_agg_trades_day,
    publish_agg_trades_day,
    staged_agg_trades_path,
)
from hedgegrid_data.sources.binance_archive.layout import ArchiveFile
from hedgegrid_data.venues.binance import Market, instrument_id

AGG_TRADE_CHECKS = (
    ("agg_trade_id_gaps", True, "Missing aggregate ids beyond the excluded placeholder and zero-quantity rows."),
    ("trade_silences", False, "Silences far longer than the day's own aggregate spacing."),
    ("day_coverage", False, "First and last aggregates near the day's bounds."),
    ("price_spikes", False, "Consecutive-aggregate jumps and robust outliers against the minute's median/MAD."),
    ("volume_spikes", False, "Minutes whose volume dwarfs the preceding hour's mean."),
)


def build_binance_agg_trades_assets(market: Market) -> list[AssetsDefinition]:
    prefix = f"binance_{market.value}_agg_trades"
    partitions = daily_symbol_partitions(market)
    normalized_name, catalog_name = f"{prefix}_normalized", f"{prefix}_catalog"

    raw = build_raw_archive_asset(
        market, prefix, daily_archive_files(market, DATA_TYPE),
        f"Binance {market.value} daily aggTrades zip, sha256-verified against its CHECKSUM.")

    @asset(
        name=normalized_name,
        group_name=prefix,
        partitions_def=partitions,
        deps=[raw],
        kinds={"parquet", "polars"},
        description=(f"Binance {market.value} aggregated trades for one day: exact decimals, ns times, aggressor "
                     "side; placeholder and zero-quantity rows counted and excluded; pandera-validated."),
        check_specs=[
            AssetCheckSpec("schema_valid", asset=normalized_name, blocking=True),
            *(AssetCheckSpec(name, asset=normalized_name, blocking=blocks, description=text)
              for name, blocks, text in AGG_TRADE_CHECKS),
        ],
    )
    def normalized(context: AssetExecutionContext, data_store: DataStoreResource,
                   trade_source: TradeSourceResource) -> MaterializeResult:
        day, symbol = day_and_symbol(context.partition_key)
        store = data_store.store
        archive_file = ArchiveFile(market, DATA_TYPE, symbol, day)
        with fail_closed():
            normalized_day = normalize_agg_trades_day(store, archive_file,
                                                      publishes_catalog=trade_source.source == DATA_TYPE)
        summary = normalized_day.summary
        out = store.normalized_file(market, DATA_TYPE, symbol, day)
        metadata = {
            "rows": summary.rows, "source_rows": summary.source_rows,
            "placeholder_rows_excluded": summary.placeholder_rows,
            "zero_quantity_rows_excluded": summary.zero_quantity_rows,
            "duplicates_dropped": summary.duplicates_dropped, "resorted": summary.resorted,
            "first_event_time": utc_text(summary.first_ts_ns), "last_event_time": utc_text(summary.last_ts_ns),
            "first_agg_trade_id": summary.first_agg_trade_id, "last_agg_trade_id": summary.last_agg_trade_id,
            "first_trade_id": summary.first_trade_id, "last_trade_id": summary.last_trade_id,
            "trades_covered": summary.trades_covered,
            "time_unit": summary.time_unit.value if summary.time_unit else "", "header": summary.header,
            "bytes": out.stat().st_size, "path": path_metadata(out),
            "staged_catalog_file": path_metadata(staged_agg_trades_path(store, archive_file)),
            **quality_metadata(normalized_day.report),
        }
        return MaterializeResult(
            metadata=metadata,
            check_results=[AssetCheckResult(check_name="schema_valid", passed=True,
                                            metadata={"rows_validated": summary.rows}),
                           *(check_result(v) for v in normalized_day.verdicts)],
        )

    @asset(
        name=catalog_name,
        group_name=prefix,
        partitions_def=partitions,
        deps=[normalized],
        kinds={"nautilus", "parquet"},
        description=(f"Nautilus TradeTick day file (trade id = aggregate id) and instrument for Binance "
                     f"{market.value}, published only when the trade_source resource is 'aggTrades'."),
        check_specs=publication_check_specs(catalog_name),
    )
    def catalog(context: AssetExecutionContext, data_store: DataStoreResource,
                trade_source: TradeSourceResource) -> MaterializeResult:
        day, symbol = day_and_symbol(context.partition_key)
        if trade_source.source != DATA_TYPE:
            return not_published_result(trade_source.source)
        with fail_closed():
            published = publish_agg_trades_day(data_store.store, ArchiveFile(market, DATA_TYPE, symbol, day))
        return published_day_result(published, published=True, trade_source=trade_source.source)

    quality_report = build_quality_report_asset(
        market, prefix, DATA_TYPE, normalized, lambda symbol: (TradeTick, instrument_id(market, symbol).value))
    return [raw, normalized, catalog, quality_report]
