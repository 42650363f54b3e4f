"""Binance funding rates, one asset group per futures market: month zip → one day's funding table → FundingRateUpdates.

Groups ``binance_um_funding_rate`` and ``binance_cm_funding_rate``; asset keys
``binance_<market>_funding_rate_{raw,normalized,catalog}``, partitioned by day × symbol like every
dataset. The archive publishes funding monthly only: the raw asset of day D fetches and verifies the
month file containing D (downloaded once, then reused by the month's other days while its sha256 still
matches the CHECKSUM) and fails with "not published" until the month is out; the normalized and catalog
assets of day D hold the events whose calc_time falls on D. A day without events passes with 0 rows and
a failed WARN check ``day_has_funding_events``; its catalog day stays absent. ``funding_schedule`` warns about
boundaries of the day's schedule without an event; the catalog asset's blocking ``catalog_integrity`` check
reads the day back through Nautilus; ``binance_<market>_funding_rate_quality_report`` keeps the rolling summary.
"""

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    MaterializeResult,
    asset,
)
from nautilus_trader.model.data import FundingRateUpdate

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
from hedgegrid_data.epochs import utc_text
from hedgegrid_data.partitions import daily_symbol_partitions, day_and_symbol
from hedgegrid_data.resources import DataStoreResource
from hedgegrid_data.sources.binance_archive.funding import DATA_TYPE
from hedgegrid_data.sources.binance_archive.funding_day import (
    funding_archive_file,
    normalize_funding_day,
    publish_funding_day,
    staged_funding_path,
)
from hedgegrid_data.sources.binance_archive.layout import ArchiveFile
from hedgegrid_data.venues.binance import Market, instrument_id


def build_binance_funding_assets(market: Market) -> list[AssetsDefinition]:
    if market is Market.SPOT:
        raise ValueError("spot has no funding rates")
    prefix = f"binance_{market.value}_funding_rate"
    partitions = daily_symbol_partitions(market)
    normalized_name, catalog_name = f"{prefix}_normalized", f"{prefix}_catalog"

    def archive_files(partition_key: str) -> list[ArchiveFile]:
        day, symbol = day_and_symbol(partition_key)
        return [funding_archive_file(market, symbol, day)]

    raw = build_raw_archive_asset(
        market, prefix, archive_files,
        f"Binance {market.value} monthly fundingRate zip containing the day, sha256-verified against its "
        "CHECKSUM; downloaded once per month and reused by the month's days.")

    @asset(
        name=normalized_name,
        group_name=prefix,
        partitions_def=partitions,
        deps=[raw],
        kinds={"parquet", "polars"},
        description=(f"Binance {market.value} funding events of one day: exact rate, funding interval, funding "
                     "boundary (calc_time floored to the hour) and next funding time; pandera-validated."),
        check_specs=[
            AssetCheckSpec("schema_valid", asset=normalized_name, blocking=True),
            AssetCheckSpec("day_has_funding_events", asset=normalized_name, blocking=False,
                           description="WARN when the month file has no event on this day."),
            AssetCheckSpec("funding_schedule", asset=normalized_name, blocking=False,
                           description="WARN for boundaries of the day's funding schedule without an event."),
        ],
    )
    def normalized(context: AssetExecutionContext, data_store: DataStoreResource) -> MaterializeResult:
        day, symbol = day_and_symbol(context.partition_key)
        store = data_store.store
        archive_file = funding_archive_file(market, symbol, day)
        with fail_closed():
            normalized_day = normalize_funding_day(store, archive_file)
        summary = normalized_day.summary
        out = store.normalized_file(market, DATA_TYPE, symbol, day)
        if summary.rows == 0:
            context.log.warning(f"{archive_file.file_name} has no funding event on {day}: no catalog day is written")
        return MaterializeResult(
            metadata={
                "rows": summary.rows, "intervals_hours": str(summary.intervals_hours),
                "first_event_time": utc_text(summary.first_ts_ns), "last_event_time": utc_text(summary.last_ts_ns),
                "month": archive_file.period, "month_rows": summary.month_rows,
                "month_first_event_time": utc_text(summary.month_first_ts_ns),
                "month_last_event_time": utc_text(summary.month_last_ts_ns),
                "month_intervals_hours": str(summary.month_intervals_hours),
                "month_schedule_breaks": summary.month_schedule_breaks,
                "source_rows": summary.source_rows, "duplicates_dropped": summary.duplicates_dropped,
                "resorted": summary.resorted, "time_unit": summary.time_unit.value, "header": summary.header,
                "bytes": out.stat().st_size, "path": path_metadata(out),
                "staged_catalog_file": path_metadata(staged_funding_path(store, archive_file)) if summary.rows else "",
                **quality_metadata(normalized_day.report),
            },
            check_results=[
                AssetCheckResult(check_name="schema_valid", passed=True, metadata={"rows_validated": summary.rows}),
                *(check_result(v) for v in normalized_day.verdicts),
            ],
        )

    @asset(
        name=catalog_name,
        group_name=prefix,
        partitions_def=partitions,
        deps=[normalized],
        kinds={"nautilus", "parquet"},
        description=(f"Nautilus FundingRateUpdate day file (and instrument) for Binance {market.value}; readers "
                     "must call hedgegrid_data.catalog.funding_rates.register_funding_rate_codec()."),
        check_specs=publication_check_specs(catalog_name),
    )
    def catalog(context: AssetExecutionContext, data_store: DataStoreResource) -> MaterializeResult:
        day, symbol = day_and_symbol(context.partition_key)
        with fail_closed():
            published = publish_funding_day(data_store.store, funding_archive_file(market, symbol, day))
        return published_day_result(published)

    quality_report = build_quality_report_asset(
        market, prefix, DATA_TYPE, normalized,
        lambda symbol: (FundingRateUpdate, instrument_id(market, symbol).value))
    return [raw, normalized, catalog, quality_report]
