"""The raw layer every archive dataset shares: download the partition's archive file(s), verify, keep."""

from collections.abc import Callable

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    MaterializeResult,
    asset,
)

from hedgegrid_data.assets.common import fail_closed, path_metadata
from hedgegrid_data.assets.policies import archive_http_retry
from hedgegrid_data.partitions import daily_symbol_partitions, day_and_symbol
from hedgegrid_data.resources import BinanceArchiveResource, DataStoreResource
from hedgegrid_data.sources.binance_archive.download import VerifiedFile
from hedgegrid_data.sources.binance_archive.layout import ArchiveFile
from hedgegrid_data.venues.binance import Market


def _file_metadata(verified: VerifiedFile, tag: str) -> dict[str, object]:
    p = verified.provenance
    return {f"{tag}period": verified.archive_file.period, f"{tag}url": p.url, f"{tag}sha256": p.sha256,
            f"{tag}bytes": p.size, f"{tag}etag": p.etag or "", f"{tag}last_modified": p.last_modified or "",
            f"{tag}fetched_at": p.fetched_at, f"{tag}reused_local_copy": verified.reused,
            f"{tag}path": path_metadata(verified.path)}


def daily_archive_files(market: Market, data_type: str) -> Callable[[str], list[ArchiveFile]]:
    """The partition's one daily archive file of ``data_type`` (trades, aggTrades)."""

    def files(partition_key: str) -> list[ArchiveFile]:
        day, symbol = day_and_symbol(partition_key)
        return [ArchiveFile(market, data_type, symbol, day)]

    return files


def build_raw_archive_asset(market: Market, group: str, files: Callable[[str], list[ArchiveFile]],
                            description: str) -> AssetsDefinition:
    """``<group>_raw``: the archive files ``files(partition_key)`` names, each sha256-verified against its CHECKSUM.

    Metadata keys are plain for one file and prefixed by the kline interval for several.
    """
    name = f"{group}_raw"

    @asset(
        name=name,
        group_name=group,
        partitions_def=daily_symbol_partitions(market),
        pool="binance_http",
        retry_policy=archive_http_retry(),
        kinds={"binance", "zip"},
        description=description,
        check_specs=[AssetCheckSpec("checksum_verified", asset=name, blocking=True)],
    )
    def raw(context: AssetExecutionContext, binance_archive: BinanceArchiveResource,
            data_store: DataStoreResource) -> MaterializeResult:
        with fail_closed(), binance_archive.open(data_store.store.raw) as archive:
            verified = [archive.fetch_verified(f) for f in files(context.partition_key)]
        metadata: dict[str, object] = {}
        for v in verified:
            # kline files are named by their interval (``1m_url``) however many a partition downloads
            metadata.update(_file_metadata(v, f"{v.archive_file.interval}_" if v.archive_file.interval else ""))
        return MaterializeResult(
            metadata=metadata,
            check_results=[AssetCheckResult(
                check_name="checksum_verified", passed=True,
                metadata={v.archive_file.file_name: v.provenance.sha256 for v in verified},
            )],
        )

    return raw
