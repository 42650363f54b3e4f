"""Binance kline-like datasets: raw archive zips → normalized tables → Nautilus Bars and MarkPriceUpdates.

``build_binance_klines_assets(market)``: group ``binance_<market>_klines``, keys
``binance_<market>_klines_{raw,normalized,catalog,quality_report}``; the catalog asset publishes a ``Bar``
day per configured archive interval and per higher timeframe built from 1m. The intervals are the
factory's arguments, chosen where the definitions are wired.

``build_binance_mark_price_assets(market)`` (USD-M, COIN-M): groups
``binance_<market>_mark_price_klines`` (raw, normalized, catalog of ``MarkPriceUpdate``, quality report),
``binance_<market>_index_price_klines`` and ``binance_<market>_premium_index_klines`` (raw, normalized,
quality report: NautilusTrader 1.220's catalog cannot read index prices back, and has no premium type).

Every normalized asset carries the blocking ``ohlcv_rules`` check and the WARN ``bar_gaps`` check; every
catalog asset the blocking ``catalog_integrity`` check.
"""

from collections.abc import Sequence

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    MaterializeResult,
    asset,
)
from nautilus_trader.model.data import Bar, MarkPriceUpdate

from hedgegrid_data.assets.common import (
    build_quality_report_asset,
    check_result,
    fail_closed,
    path_metadata,
    publication_check_specs,
    published_day_result,
    quality_metadata,
)
from hedgegrid_data.assets.raw_archive import build_raw_archive_asset
from hedgegrid_data.catalog.bars import bar_type
from hedgegrid_data.epochs import utc_text
from hedgegrid_data.partitions import daily_symbol_partitions, day_and_symbol
from hedgegrid_data.resources import DataStoreResource
from hedgegrid_data.sources.binance_archive.klines import (
    BASE_INTERVAL,
    HIGHER_TIMEFRAMES,
)
from hedgegrid_data.sources.binance_archive.klines_day import (
    DEFAULT_KLINE_INTERVALS,
    BarPlan,
    KlineFileSummary,
    kline_archive_file,
    normalize_klines_day,
    normalize_price_index_day,
    publish_klines_day,
    publish_mark_prices_day,
)
from hedgegrid_data.sources.binance_archive.layout import ArchiveFile
from hedgegrid_data.venues.binance import Market, instrument_id

PRICE_INDEX_GROUPS = {
    "markPriceKlines": "mark_price_klines",
    "indexPriceKlines": "index_price_klines",
    "premiumIndexKlines": "premium_index_klines",
}


def _quality_check_specs(asset_name: str) -> list[AssetCheckSpec]:
    return [
        AssetCheckSpec("schema_valid", asset=asset_name, blocking=True),
        AssetCheckSpec("ohlcv_rules", asset=asset_name, blocking=True,
                       description="high ≥ max(open, close), low ≤ min(open, close), high ≥ low, volume ≥ 0, "
                                   "taker-buy ≤ volume, open times increasing, close = open + interval − 1 unit."),
        AssetCheckSpec("bar_gaps", asset=asset_name, blocking=False,
                       description="Expected bars per day and interval; missing bars as windows (maintenance)."),
    ]


def _file_metadata(summary: KlineFileSummary) -> dict[str, object]:
    tag = summary.archive_file.interval
    return {
        f"{tag}_rows": summary.rows, f"{tag}_missing_bars": summary.missing_bars,
        f"{tag}_first_open_time": utc_text(summary.first_open_ns),
        f"{tag}_last_close_time": utc_text(summary.last_close_ns),
        f"{tag}_time_unit": summary.time_unit.value, f"{tag}_header": summary.header,
        f"{tag}_path": path_metadata(summary.path),
    }


def build_binance_klines_assets(market: Market, intervals: Sequence[str] = DEFAULT_KLINE_INTERVALS,
                                timeframes: Sequence[str] = HIGHER_TIMEFRAMES) -> list[AssetsDefinition]:
    """Klines of ``market``: ``intervals`` are downloaded from the archive, ``timeframes`` built from its 1m.

    A timeframe that is also a downloaded interval must equal the archive's file bar by bar.
    """
    plan = BarPlan.of(intervals, timeframes)
    prefix = f"binance_{market.value}_klines"
    partitions = daily_symbol_partitions(market)
    normalized_name, catalog_name = f"{prefix}_normalized", f"{prefix}_catalog"

    def files(partition_key: str) -> list[ArchiveFile]:
        day, symbol = day_and_symbol(partition_key)
        return [kline_archive_file(market, "klines", symbol, day, i) for i in plan.intervals]

    raw = build_raw_archive_asset(market, prefix, files, f"Binance {market.value} daily klines "
                                  f"({', '.join(plan.intervals)}) zips, sha256-verified against their CHECKSUM.")

    @asset(
        name=normalized_name,
        group_name=prefix,
        partitions_def=partitions,
        deps=[raw],
        kinds={"parquet", "polars"},
        description=f"Binance {market.value} klines ({', '.join(plan.intervals)}) for one day: all 12 columns, exact "
                    f"decimals, ns times, every bar checked; bars staged for {', '.join(plan.published)}.",
        check_specs=_quality_check_specs(normalized_name),
    )
    def normalized(context: AssetExecutionContext, data_store: DataStoreResource) -> MaterializeResult:
        day, symbol = day_and_symbol(context.partition_key)
        with fail_closed():
            result = normalize_klines_day(data_store.store, market, symbol, day, plan)
        metadata: dict[str, object] = {"instrument_size_precision": result.instrument_size_precision,
                                       **quality_metadata(result.report)}
        for summary in result.files:
            metadata.update(_file_metadata(summary))
        for bars in result.bars:
            metadata.update({f"{bars.interval}_bars": bars.rows, f"{bars.interval}_bars_source": bars.source,
                             f"{bars.interval}_volume_precision": bars.size_precision})
        return MaterializeResult(
            metadata=metadata,
            check_results=[AssetCheckResult(check_name="schema_valid", passed=True,
                                            metadata={f"{s.archive_file.interval}_rows_validated": s.rows
                                                      for s in result.files}),
                           *(check_result(v) for v in result.verdicts)],
        )

    @asset(
        name=catalog_name,
        group_name=prefix,
        partitions_def=partitions,
        deps=[normalized],
        kinds={"nautilus", "parquet"},
        description=f"Nautilus Bar day files ({', '.join(plan.published)}, EXTERNAL, stamped at the kline close) "
                    f"and the instrument for Binance {market.value} klines.",
        check_specs=[*publication_check_specs(catalog_name),
                     AssetCheckSpec("bars_agree_with_archive", asset=catalog_name, blocking=True)],
    )
    def catalog(context: AssetExecutionContext, data_store: DataStoreResource) -> MaterializeResult:
        day, symbol = day_and_symbol(context.partition_key)
        with fail_closed():
            published = publish_klines_day(data_store.store, market, symbol, day, plan)
        metadata: dict[str, object] = {"instrument_id": published.instrument_id}
        for interval, p in published.days.items():
            metadata.update({f"{interval}_rows": p.rows_out, f"{interval}_bytes": p.bytes,
                             f"{interval}_path": path_metadata(p.path)})
        balanced = all(p.rows_in == p.rows_out for p in published.days.values())
        return MaterializeResult(
            metadata=metadata,
            check_results=[
                AssetCheckResult(
                    check_name="rows_in_equals_rows_out", passed=balanced, severity=AssetCheckSeverity.ERROR,
                    metadata={f"{i}_rows_{side}": getattr(p, f"rows_{side}")
                              for i, p in published.days.items() for side in ("in", "out")},
                ),
                AssetCheckResult(
                    check_name="bars_agree_with_archive", passed=True,
                    metadata={"intervals_compared": ", ".join(published.compared) or "none downloaded",
                              **{f"{i}_bars_compared": n for i, n in published.compared.items()}},
                ),
                check_result(published.integrity),
            ],
        )

    base = BASE_INTERVAL if BASE_INTERVAL in plan.intervals else plan.intervals[0]
    quality_report = build_quality_report_asset(
        market, prefix, "klines", normalized,
        lambda symbol: (Bar, str(bar_type(instrument_id(market, symbol), base))))
    return [raw, normalized, catalog, quality_report]


def build_binance_price_index_groups(market: Market, interval: str = BASE_INTERVAL
                                     ) -> dict[tuple[str, str], list[AssetsDefinition]]:
    """Mark, index and premium-index klines of a futures market: ``{(data_type, group): assets}``."""
    if market is Market.SPOT:
        raise ValueError("mark, index and premium-index klines exist for USD-M and COIN-M only")
    groups = [(data_type, f"binance_{market.value}_{dataset}") for data_type, dataset in PRICE_INDEX_GROUPS.items()]
    return {(data_type, group): _price_index_assets(market, data_type, group, interval) for data_type, group in groups}


def build_binance_mark_price_assets(market: Market, interval: str = BASE_INTERVAL) -> list[AssetsDefinition]:
    """Mark, index and premium-index klines of a futures market, one group each."""
    return [a for assets in build_binance_price_index_groups(market, interval).values() for a in assets]


def _price_index_assets(market: Market, data_type: str, prefix: str, interval: str) -> list[AssetsDefinition]:
    partitions = daily_symbol_partitions(market)
    normalized_name, catalog_name = f"{prefix}_normalized", f"{prefix}_catalog"
    marks = data_type == "markPriceKlines"

    def files(partition_key: str) -> list[ArchiveFile]:
        day, symbol = day_and_symbol(partition_key)
        return [kline_archive_file(market, data_type, symbol, day, interval)]

    raw = build_raw_archive_asset(market, prefix, files, f"Binance {market.value} daily {data_type} {interval} "
                                  "zip, sha256-verified against its CHECKSUM.")

    @asset(
        name=normalized_name,
        group_name=prefix,
        partitions_def=partitions,
        deps=[raw],
        kinds={"parquet", "polars"},
        description=f"Binance {market.value} {data_type} {interval} for one day: open_time, OHLC (exact), close_time, "
                    "source_points; every bar checked." + (" MarkPriceUpdates staged." if marks else ""),
        check_specs=_quality_check_specs(normalized_name),
    )
    def normalized(context: AssetExecutionContext, data_store: DataStoreResource) -> MaterializeResult:
        day, symbol = day_and_symbol(context.partition_key)
        with fail_closed():
            result = normalize_price_index_day(data_store.store, market, data_type, symbol, day, interval)
        metadata = {**_file_metadata(result.file), **quality_metadata(result.report)}
        if result.value_precision is not None:
            metadata["mark_price_precision"] = result.value_precision
        return MaterializeResult(
            metadata=metadata,
            check_results=[AssetCheckResult(check_name="schema_valid", passed=True,
                                            metadata={"rows_validated": result.file.rows}),
                           *(check_result(v) for v in result.verdicts)],
        )

    quality_report = build_quality_report_asset(
        market, prefix, data_type, normalized,
        (lambda symbol: (MarkPriceUpdate, instrument_id(market, symbol).value)) if marks else None)
    if not marks:
        return [raw, normalized, quality_report]

    @asset(
        name=catalog_name,
        group_name=prefix,
        partitions_def=partitions,
        deps=[normalized],
        kinds={"nautilus", "parquet"},
        description=f"Nautilus MarkPriceUpdate day file (kline close at close time) for Binance {market.value}.",
        check_specs=publication_check_specs(catalog_name),
    )
    def catalog(context: AssetExecutionContext, data_store: DataStoreResource) -> MaterializeResult:
        day, symbol = day_and_symbol(context.partition_key)
        with fail_closed():
            published = publish_mark_prices_day(data_store.store, market, symbol, day, interval)
        return published_day_result(published)

    return [raw, normalized, catalog, quality_report]
