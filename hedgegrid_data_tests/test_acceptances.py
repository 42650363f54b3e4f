"""Known defects: an operator accepts one finding of one source day; the day publishes, the finding stays visible as
accepted, and any other finding still blocks."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetKey, instance_for_test, materialize

from hedgegrid_data.assets.factory import build_feed_assets
from hedgegrid_data.automation.accept_finding import (
    AcceptFindingConfig,
    accept_recorded_finding,
    build_accept_finding_job,
)
from hedgegrid_data.errors import HedgegridDataError
from hedgegrid_data.feeds.recipe import publish_day
from hedgegrid_data.quality.acceptances import (
    Acceptance,
    add_acceptance,
    apply_acceptances,
    fingerprint,
    read_acceptances,
)
from hedgegrid_data.quality.findings import Severity, Verdict
from hedgegrid_data.quality.report import day_markdown, day_report, rolling_summary, summary_markdown
from hedgegrid_data.resources import DataStoreResource
from hedgegrid_data.sources.binance_archive.feeds import trades_feed
from hedgegrid_data.sources.binance_archive.reconciliation_day import reconcile_day, reconciliation_verdicts_file
from hedgegrid_data.sources.binance_archive.resources import BinanceArchiveResource
from hedgegrid_data.store import DataStore
from hedgegrid_data.testing.archive_generator import read_csv_text, replace_csv
from hedgegrid_data.testing.archive_server import ArchiveServer
from hedgegrid_data.venues.binance import Market
from hedgegrid_data_tests.conftest import generate_trades
from hedgegrid_data_tests.test_reconciliation_pipeline import DAY as RECONCILED_DAY
from hedgegrid_data_tests.test_reconciliation_pipeline import FEEDS, TRADES, _ingest, store_with_trades  # noqa: F401

PARTITION = "2021-03-14|BTCUSDT"


def _gaps(missing: int, gaps: int, ranges: list[list[int]]) -> Verdict:
    return Verdict("trade_id_gaps", False, Severity.ERROR, f"{missing} missing trade ids in {gaps} gaps",
                   {"missing_ids": missing, "gaps": gaps, "missing_ranges": ranges})


def test_only_the_accepted_finding_of_that_day_passes(tmp_path: Path) -> None:
    known = _gaps(280, 225, [[10, 11], [20, 20]])
    acceptances_file = tmp_path / "accepted.toml"
    add_acceptance(acceptances_file, "binance_um_trades", PARTITION, "trade_id_gaps", fingerprint(known),
                   'Binance\'s own file ("known"),\nsee ticket é-1', "jane")
    acceptances = read_acceptances(acceptances_file)
    assert acceptances[0].reason == 'Binance\'s own file ("known"),\nsee ticket é-1' and acceptances[0].by == "jane"
    [accepted] = apply_acceptances([known], acceptances, "binance_um_trades", PARTITION)
    assert accepted.passed and not accepted.blocks
    assert accepted.metadata["accepted"] is True and accepted.metadata["accepted_by"] == "jane"
    assert accepted.metadata["original_summary"] == "280 missing trade ids in 225 gaps"
    assert accepted.summary.startswith("accepted: 280 missing trade ids in 225 gaps (Binance's own file")
    # another finding on that day, the same finding on another day or feed: still blocking
    other_ranges = _gaps(280, 225, [[10, 11], [21, 21]])
    for verdicts, feed, partition in (([_gaps(281, 225, [[10, 11]])], "binance_um_trades", PARTITION),
                                      ([other_ranges], "binance_um_trades", PARTITION),
                                      ([known], "binance_um_trades", "2021-03-15|BTCUSDT"),
                                      ([known], "binance_um_agg_trades", PARTITION)):
        [judged] = apply_acceptances(verdicts, acceptances, feed, partition)
        assert judged.blocks and "accepted" not in judged.metadata and judged.metadata["fingerprint"]


def test_an_accepted_finding_shows_as_accepted_in_the_reports() -> None:
    finding = _gaps(3, 1, [[5, 7]])
    acceptance = Acceptance("f", PARTITION, "trade_id_gaps", fingerprint(finding), "Binance's own file", "jane",
                            "2026-12-02T09:00:00Z")
    [accepted] = apply_acceptances([finding], [acceptance], "f", PARTITION)
    report = day_report(PARTITION, [accepted])
    assert not report["blocked"] and report["quality_score"] == 1.0
    assert report["accepted"] == {"trade_id_gaps": "Binance's own file"}
    assert "| trade_id_gaps | ERROR | accepted | accepted: 3 missing trade ids in 1 gaps (Binance's own file) |" in (
        day_markdown(report))
    summary = rolling_summary([report])
    assert summary["accepted_findings"] == {PARTITION: {"trade_id_gaps": "Binance's own file"}}
    assert "trade_id_gaps (accepted: Binance's own file)" in summary_markdown("um trades", summary, [report])


def test_a_malformed_acceptance_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "accepted.toml"
    path.write_text('[[accepted]]\nfeed = "binance_um_trades"\npartition = "2021-03-14|BTCUSDT"\n'
                    'check = "trade_id_gaps"\nfingerprint = "x"\nby = "jane"\nat = "2026-12-02"\n')
    with pytest.raises(HedgegridDataError, match=r"accepted finding #1 lacks reason"):
        read_acceptances(path)
    with pytest.raises(HedgegridDataError, match="needs a reason"):
        add_acceptance(tmp_path / "other.toml", "f", PARTITION, "c", "x", " ", "jane")


def _resources(server: ArchiveServer, store: DataStore) -> dict:
    return {"data_store": DataStoreResource(data_dir=str(store.root)),
            "binance_archive": BinanceArchiveResource(base_url=server.url, download_attempts=2)}


def test_an_operator_accepts_a_known_defect_from_a_job_and_the_day_publishes(
        archive_root: Path, archive_server: ArchiveServer, data_store: DataStore, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    acceptances_file = tmp_path / "accepted_findings.toml"
    monkeypatch.setenv("HEDGEGRID_ACCEPTED_FINDINGS_FILE", str(acceptances_file))
    day = generate_trades(archive_root, Market.USDM, "BTCUSDT", "2024-01-02", 20_000)
    rows = read_csv_text(day.zip_path).splitlines()
    replace_csv(day, "\n".join(rows[:5000] + rows[5300:]) + "\n")  # Binance's own file lacks 300 ids
    feed = trades_feed(Market.USDM)
    assets = build_feed_assets(feed)
    accept_job = build_accept_finding_job({feed.name: feed.quality_file})
    day_file = (data_store.catalog / "data/trade_tick/BTCUSDT-PERP.BINANCE/"
                "2024-01-02T00-00-00-000000000Z_2024-01-02T23-59-59-999999999Z.parquet")
    with instance_for_test() as instance:
        def run():
            return materialize(assets, partition_key="2024-01-02|BTCUSDT", instance=instance,
                               resources=_resources(archive_server, data_store), raise_on_error=False)

        def gaps_check(result):
            [gaps] = [c for c in result.get_asset_check_evaluations() if c.check_name == "trade_id_gaps"]
            return gaps

        def accept(finding: str = ""):
            return accept_job.execute_in_process(
                run_config={"ops": {"accept": {"config": {
                    "feed": "binance_um_trades", "partition": "2024-01-02|BTCUSDT", "check": "trade_id_gaps",
                    "reason": "Binance's own file: the ids are missing from the archive", "by": "jane",
                    "fingerprint": finding}}}},
                resources={"data_store": DataStoreResource(data_dir=str(data_store.root))}, instance=instance,
                raise_on_error=False)

        blocked = run()
        assert not blocked.success and not day_file.exists()
        finding = gaps_check(blocked).metadata["fingerprint"].value
        assert finding.startswith("300 missing trade ids in 1 gaps [where ")
        wrong = accept("299 missing trade ids in 1 gaps")
        assert not wrong.success and not acceptances_file.exists()
        assert accept(finding).success
        [entry] = read_acceptances(acceptances_file)
        assert (entry.fingerprint, entry.by) == (finding, "jane") and entry.at.endswith("Z")
        # the day publishes; the finding stays visible, as accepted
        published = run()
        assert published.success and day_file.exists()
        gaps = gaps_check(published)
        assert gaps.passed and gaps.metadata["accepted"].value is True
        assert gaps.metadata["original_summary"].value == "300 missing trade ids in 1 gaps"
        assert gaps.metadata["accepted_reason"].value == "Binance's own file: the ids are missing from the archive"
        report = instance.get_latest_materialization_event(AssetKey("binance_um_trades_quality_report"))
        assert report.asset_materialization.metadata["BTCUSDT_accepted_findings"].value == {
            "2024-01-02|BTCUSDT": {"trade_id_gaps": "Binance's own file: the ids are missing from the archive"}}
        markdown = (data_store.root / "quality/binance/um/trades/BTCUSDT/2024-01-02.report.md").read_text()
        assert "| trade_id_gaps | ERROR | accepted | accepted: 300 missing trade ids in 1 gaps" in markdown
        assert not accept().success  # already accepted
        # a re-published file with another defect blocks again; the accepted day stays published (keep)
        replace_csv(day, "\n".join(rows[:5000] + rows[5310:]) + "\n")
        again = run()
        assert not again.success and not gaps_check(again).passed and day_file.exists()
        assert "310 missing trade ids in 1 gaps; the published day of 2024-01-02 (19,700 rows) was kept" in (
            gaps_check(again).description)


def test_a_reconciliation_finding_is_accepted_the_same_way(store_with_trades: DataStore,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEDGEGRID_ACCEPTED_FINDINGS_FILE", raising=False)
    store, day = store_with_trades, RECONCILED_DAY
    acceptances_file = store.root / "accepted_findings.toml"  # the default: beside the data it is about
    _ingest(store, changed_minute=600)
    assert not {v.check: v for v in reconcile_day(store, Market.USDM, "BTCUSDT", day, FEEDS)}[
        "klines_match_trades"].passed
    config = AcceptFindingConfig(feed="binance_um_reconciliation", partition="2024-01-02|BTCUSDT",
                                 check="klines_match_trades", reason="the archive's kline of 10:00 is known wrong",
                                 by="jane")
    verdicts_file = reconciliation_verdicts_file(Market.USDM, store, day, "BTCUSDT")
    accept_recorded_finding(verdicts_file, acceptances_file, config)
    verdicts = {v.check: v for v in reconcile_day(store, Market.USDM, "BTCUSDT", day, FEEDS)}
    with pytest.raises(HedgegridDataError, match="already accepted"):
        accept_recorded_finding(verdicts_file, acceptances_file, config)
    assert verdicts["klines_match_trades"].passed and verdicts["klines_match_trades"].metadata["accepted"]
    assert publish_day(TRADES, store, day, "BTCUSDT").integrity.passed
    _ingest(store, changed_minute=700)  # another kline disagrees: blocks again
    assert not {v.check: v for v in reconcile_day(store, Market.USDM, "BTCUSDT", day, FEEDS)}[
        "klines_match_trades"].passed
