"""Pure automation logic without Dagster: listing XML, paging, provenance comparison, what to request, alerts."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hedgegrid_data.automation.alerts import (
    Alert,
    check_failure_alert,
    late_days_alert,
    partition_of_run,
    read_alerts,
    record_alert,
    run_failure_alert,
)
from hedgegrid_data.automation.planning import (
    AvailabilityCursor,
    RepublicationCursor,
    availability_candidates,
    combine_publication,
    days_by_symbol,
    is_late,
    plan_availability,
    republication_run_key,
    round_robin,
    watch_window,
)
from hedgegrid_data.epochs import month_end
from hedgegrid_data.feeds.feed import Republication
from hedgegrid_data.sources.binance_archive.layout import ArchiveFile
from hedgegrid_data.sources.binance_archive.listing import (
    ArchiveListing,
    ListedObject,
    PublicationProbe,
    marker_before,
    parse_listing_page,
)
from hedgegrid_data.sources.binance_archive.source import listed_version, republication_change
from hedgegrid_data.sources.binance_archive.universe import (
    archive_universe,
    period_start_of_key,
    symbol_folders,
    symbol_of_prefix,
)
from hedgegrid_data.sources.http import normalize_etag, parse_timestamp
from hedgegrid_data.sources.provenance import Provenance
from hedgegrid_data.testing.archive_server import ArchiveServer, Fault
from hedgegrid_data.testing.webhook_receiver import WebhookReceiver
from hedgegrid_data.venues.binance import Market
from hedgegrid_data_tests.conftest import generate_trades

# A page as the real bucket answers it (namespace, quoted ETag, CommonPrefixes after Contents).
S3_PAGE = """<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>data.binance.vision</Name>
<Prefix>data/futures/um/daily/trades/BTCUSDT/</Prefix><Marker></Marker><MaxKeys>1000</MaxKeys>
<Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>
<NextMarker>data/futures/um/daily/trades/BTCUSDT/BTCUSDT-trades-2019-09-09.zip.CHECKSUM</NextMarker>
<Contents><Key>data/futures/um/daily/trades/BTCUSDT/BTCUSDT-trades-2019-09-08.zip</Key>
<LastModified>2022-01-24T05:42:48.000Z</LastModified><ETag>&quot;6f1ed002ab5595859014ebf0951522d9&quot;</ETag>
<Size>1733537</Size><StorageClass>STANDARD</StorageClass></Contents>
<Contents><Key>data/futures/um/daily/trades/BTCUSDT/BTCUSDT-trades-2019-09-08.zip.CHECKSUM</Key>
<LastModified>2022-01-24T05:42:49.000Z</LastModified><ETag>&quot;aa&quot;</ETag><Size>105</Size>
<StorageClass>STANDARD</StorageClass></Contents>
<CommonPrefixes><Prefix>data/futures/um/daily/trades/BTCUSDT/sub/</Prefix></CommonPrefixes>
</ListBucketResult>"""

UTC = dt.timezone.utc


def test_parse_real_listing_page() -> None:
    page = parse_listing_page(S3_PAGE)
    assert [o.key.rsplit("/", 1)[1] for o in page.objects] == [
        "BTCUSDT-trades-2019-09-08.zip", "BTCUSDT-trades-2019-09-08.zip.CHECKSUM"]
    first = page.objects[0]
    assert (first.size, first.etag) == (1733537, "6f1ed002ab5595859014ebf0951522d9")
    assert first.last_modified == dt.datetime(2022, 1, 24, 5, 42, 48, tzinfo=UTC)
    assert page.prefixes == ("data/futures/um/daily/trades/BTCUSDT/sub/",)
    assert page.continuation == "data/futures/um/daily/trades/BTCUSDT/BTCUSDT-trades-2019-09-09.zip.CHECKSUM"


def test_continuation_without_next_marker_and_at_the_end() -> None:
    truncated = S3_PAGE.replace("<NextMarker>", "<!--").replace("</NextMarker>", "-->")
    assert parse_listing_page(truncated).continuation == "data/futures/um/daily/trades/BTCUSDT/sub/"
    assert parse_listing_page(S3_PAGE.replace("<IsTruncated>true", "<IsTruncated>false")).continuation is None
    with pytest.raises(ValueError, match="ListBucketResult"):
        parse_listing_page("<Error><Code>AccessDenied</Code></Error>")


def test_etag_and_time_normalization() -> None:
    assert normalize_etag('W/"abc"') == normalize_etag('"abc"') == normalize_etag("abc") == "abc"
    assert normalize_etag('""') is None and normalize_etag(None) is None
    http = parse_timestamp("Wed, 03 Jan 2024 08:12:33 GMT")
    assert http == parse_timestamp("2024-01-03T08:12:33.000Z") == dt.datetime(2024, 1, 3, 8, 12, 33, tzinfo=UTC)
    assert parse_timestamp("yesterday") is None and parse_timestamp(None) is None


def test_marker_before_starts_the_listing_at_the_key() -> None:
    keys = sorted(f"p/S-trades-2024-01-0{d}.zip{suffix}" for d in range(1, 5) for suffix in ("", ".CHECKSUM"))
    marker = marker_before("p/S-trades-2024-01-03.zip")
    assert [k for k in keys if k > marker][0] == "p/S-trades-2024-01-03.zip"
    assert all(k < marker for k in keys if k < "p/S-trades-2024-01-03.zip")


def _provenance(size: int = 100, etag: str | None = '"e1"', last_modified: str | None = None) -> Provenance:
    return Provenance(url="u", sha256="0" * 64, size=size, etag=etag,
                      last_modified=last_modified or "Wed, 03 Jan 2024 08:12:33 GMT", fetched_at="t")


def _listed(size: int = 100, etag: str | None = "e1", modified: str = "2024-01-03T08:12:33.000Z") -> ListedObject:
    return ListedObject("k.zip", size, etag, parse_timestamp(modified))


@pytest.mark.parametrize(("provenance", "listed", "change"), [
    (_provenance(), _listed(), None),
    (_provenance(), _listed(modified="2025-05-01T00:00:00.000Z"), None),  # identical re-upload: same ETag
    (_provenance(), _listed(etag="e2"), "ETag e1 → e2"),
    (_provenance(), _listed(size=101, etag="e1"), "size 100 → 101"),
    (_provenance(etag=None), _listed(etag=None), None),  # local mirror: same size and time
    (_provenance(etag=None), _listed(etag=None, modified="2024-01-03T08:12:34.000Z"), "Last-Modified"),
    (_provenance(etag=None), _listed(etag=None, modified="2024-01-01T00:00:00.000Z"), None),
])
def test_republication_change(provenance: Provenance, listed: ListedObject, change: str | None) -> None:
    found = republication_change(provenance, listed)
    assert (found is None) == (change is None)
    if change:
        assert found.startswith(change)


def test_republication_run_key_is_per_version() -> None:
    def republished(*listed: ListedObject) -> list[Republication]:
        return [Republication(o.key, listed_version(o), "changed") for o in listed]

    assert republication_run_key("2024-01-02|BTCUSDT", republished(_listed(etag="e2"))) == "2024-01-02|BTCUSDT@e2:100"
    assert republication_run_key("k", republished(_listed(etag=None))) == "k@2024-01-03T08:12:33+00:00:100"
    two = republished(ListedObject("b.zip", 5, "e5", None), ListedObject("a.zip", 4, "e4", None))
    assert republication_run_key("k", two) == "k@e4:4+e5:5"


def test_partition_of_several_files_is_published_when_all_are() -> None:
    assert combine_publication([True, True]) is True
    assert combine_publication([True, False, None]) is False
    assert combine_publication([True, None]) is None


def test_watch_window_and_lateness() -> None:
    now = dt.datetime(2024, 3, 10, 7, 0, tzinfo=UTC)
    assert watch_window(now, 3, dt.date(2000, 1, 1)) == [dt.date(2024, 3, 7), dt.date(2024, 3, 8),
                                                         dt.date(2024, 3, 9)]
    assert watch_window(now, 3, dt.date(2024, 3, 9)) == [dt.date(2024, 3, 9)]
    late_after = dt.timedelta(hours=36)
    assert not is_late(dt.date(2024, 3, 9), now, late_after)
    assert not is_late(dt.date(2024, 3, 8), now, late_after)  # ended 03-09 00:00; late from 03-10 12:00
    assert is_late(dt.date(2024, 3, 8), dt.datetime(2024, 3, 10, 12, 0, tzinfo=UTC), late_after)
    assert is_late(dt.date(2024, 3, 7), now, late_after)


def test_days_of_a_month_file_are_due_when_the_month_ends() -> None:
    assert month_end(dt.date(2024, 2, 10)) == dt.datetime(2024, 3, 1, tzinfo=UTC)
    assert month_end(dt.date(2024, 12, 31)) == dt.datetime(2025, 1, 1, tzinfo=UTC)
    late_after = dt.timedelta(hours=36)
    assert not is_late(dt.date(2024, 2, 1), dt.datetime(2024, 3, 2, 11, 59, tzinfo=UTC), late_after, month_end)
    assert is_late(dt.date(2024, 2, 1), dt.datetime(2024, 3, 2, 12, 0, tzinfo=UTC), late_after, month_end)


def _partitions(days: list[dt.date], symbols: list[str]) -> list[tuple[tuple[dt.date, str], str]]:
    return [((d, s), f"{d.isoformat()}|{s}") for d in days for s in symbols]


def test_plan_availability_requests_published_unsettled_days_once() -> None:
    now = dt.datetime(2024, 3, 10, 7, 0, tzinfo=UTC)
    days = watch_window(now, 3, dt.date(2000, 1, 1))
    partitions = _partitions(days, ["BTCUSDT", "ETHUSDT"])
    statuses = {"2024-03-07|BTCUSDT": "MATERIALIZED", "2024-03-08|BTCUSDT": "IN_PROGRESS",
                "2024-03-09|BTCUSDT": "FAILED"}
    candidates = availability_candidates(partitions, statuses, AvailabilityCursor())
    assert [k for _, k in candidates] == ["2024-03-07|ETHUSDT", "2024-03-08|ETHUSDT", "2024-03-09|BTCUSDT",
                                          "2024-03-09|ETHUSDT"]
    published = {"2024-03-07|ETHUSDT": False, "2024-03-08|ETHUSDT": None, "2024-03-09|BTCUSDT": True,
                 "2024-03-09|ETHUSDT": False}
    window_keys = [k for _, k in partitions]
    plan = plan_availability(candidates, published, now=now, late_after=dt.timedelta(hours=36),
                             cursor=AvailabilityCursor(), window_keys=window_keys, max_requests=10)
    assert plan.request == ["2024-03-09|BTCUSDT"]
    assert [k for _, k in plan.late] == ["2024-03-07|ETHUSDT"]
    assert plan.unknown == ["2024-03-08|ETHUSDT"]

    cursor = AvailabilityCursor.parse(plan.cursor.dump())
    again = plan_availability(availability_candidates(partitions, statuses, cursor), published, now=now,
                              late_after=dt.timedelta(hours=36), cursor=cursor, window_keys=window_keys,
                              max_requests=10)
    assert again.request == [] and again.late == []

    # the window moves on: keys that left it are forgotten
    moved = plan_availability([], {}, now=now, late_after=dt.timedelta(hours=36), cursor=cursor,
                              window_keys=window_keys[2:], max_requests=10)
    assert moved.cursor.alerted == frozenset()
    assert moved.cursor.requested == {"2024-03-09|BTCUSDT"}


def test_plan_availability_is_bounded_oldest_first() -> None:
    now = dt.datetime(2024, 3, 10, 7, 0, tzinfo=UTC)
    partitions = _partitions(watch_window(now, 5, dt.date(2000, 1, 1)), ["BTCUSDT"])
    plan = plan_availability(partitions, {k: True for _, k in partitions}, now=now, late_after=dt.timedelta(1),
                             cursor=AvailabilityCursor(), window_keys=[k for _, k in partitions], max_requests=2)
    assert plan.request == ["2024-03-05|BTCUSDT", "2024-03-06|BTCUSDT"]


def test_round_robin_and_grouping() -> None:
    assert round_robin(["a", "b", "c"], 2, 2) == (["c", "a"], 1)
    assert round_robin(["a", "b"], 7, 5) == (["b", "a"], 1)
    assert round_robin([], 3, 2) == ([], 0)
    assert RepublicationCursor.parse(RepublicationCursor(4).dump()).next_symbol == 4
    assert days_by_symbol(["2024-01-03|B", "2024-01-02|B", "2024-01-02|A"]) == {
        "A": [dt.date(2024, 1, 2)], "B": [dt.date(2024, 1, 2), dt.date(2024, 1, 3)]}


def test_universe_key_parsing() -> None:
    assert symbol_of_prefix("data/spot/daily/trades/BTCUSDT/", "data/spot/daily/trades/") == "BTCUSDT"
    assert period_start_of_key("x/BTCUSDT-trades-2019-09-08.zip") == dt.date(2019, 9, 8)
    assert period_start_of_key("x/BTCUSDT-1m-2019-09.zip") == dt.date(2019, 9, 1)
    assert period_start_of_key("x/README.txt") is None
    root, folder = symbol_folders(lambda d, s: ArchiveFile(Market.USDM, "klines", s, d, interval="1m"),
                                  dt.date(2024, 1, 1))
    assert (root, folder("BTCUSDT")) == ("data/futures/um/daily/klines/", "data/futures/um/daily/klines/BTCUSDT/1m/")


def _mirror(archive_root: Path) -> None:
    for symbol, day in [("BTCUSDT", "2024-01-03"), ("BTCUSDT", "2024-01-02"), ("ETHUSDT", "2024-01-05")]:
        generate_trades(archive_root, Market.USDM, symbol, day, 50)
    generate_trades(archive_root, Market.SPOT, "BTCUSDT", "2024-01-01", 50)


def test_listing_pages_through_the_loopback_bucket_and_a_local_mirror(archive_root: Path) -> None:
    _mirror(archive_root)
    with ArchiveServer(archive_root, page_size=2) as server:
        server.inject("", Fault.status(503))  # one transient listing failure, retried
        with ArchiveListing(server.url) as http_listing, ArchiveListing(str(archive_root)) as local_listing:
            for listing in (http_listing, local_listing):
                prefix = "data/futures/um/daily/trades/BTCUSDT/"
                keys = [o.key.rsplit("/", 1)[1] for o in listing.objects(prefix)]
                assert keys == ["BTCUSDT-trades-2024-01-02.zip", "BTCUSDT-trades-2024-01-02.zip.CHECKSUM",
                                "BTCUSDT-trades-2024-01-03.zip", "BTCUSDT-trades-2024-01-03.zip.CHECKSUM"]
                later = list(listing.objects(prefix, marker=marker_before(prefix + "BTCUSDT-trades-2024-01-03.zip")))
                assert [o.key.rsplit("/", 1)[1] for o in later][0] == "BTCUSDT-trades-2024-01-03.zip"
                rows = archive_universe(listing, "data/futures/um/daily/trades/",
                                        lambda s: f"data/futures/um/daily/trades/{s}/")
                assert [(r.symbol, r.first_date) for r in rows] == [("BTCUSDT", dt.date(2024, 1, 2)),
                                                                   ("ETHUSDT", dt.date(2024, 1, 5))]
            zip_entry = next(http_listing.objects("data/futures/um/daily/trades/ETHUSDT/"))
            assert zip_entry.etag and zip_entry.size == (archive_root / zip_entry.key).stat().st_size
        listings = [path for method, path in server.requests if "delimiter" in path]
        assert any("marker=" in path for path in listings)  # paged with NextMarker


def test_publication_probe(archive_root: Path) -> None:
    _mirror(archive_root)
    key = ArchiveFile(Market.USDM, "trades", "BTCUSDT", dt.date(2024, 1, 2)).checksum_key
    absent = ArchiveFile(Market.USDM, "trades", "BTCUSDT", dt.date(2024, 1, 9)).checksum_key
    with ArchiveServer(archive_root) as server, PublicationProbe(server.url) as probe:
        server.inject(key, Fault.status(503))
        assert probe.is_published(key) is None
        assert probe.is_published(key) is True
        assert probe.is_published(absent) is False
        assert ("HEAD", f"/{key}") in server.requests
    with PublicationProbe(str(archive_root)) as local:
        assert (local.is_published(key), local.is_published(absent)) == (True, False)


def test_alerts_go_to_log_file_and_webhook(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    alerts_file = tmp_path / "data" / "alerts.jsonl"
    failure = run_failure_alert("binance_um_trades_daily", "0123456789abcdef",
                                {"dagster/partition": "2024-01-02|BTCUSDT"}, "Execution failed",
                                [("binance_um_trades_raw",
                                  "http://x/BTCUSDT-trades-2024-01-02.zip.CHECKSUM: HTTP 404")])
    check = check_failure_alert("binance_um_trades_catalog", "rows_in_equals_rows_out", "ERROR", [
        {"partition": "2024-01-02|BTCUSDT", "run_id": "r1", "description": None,
         "metadata": {"rows_in": 10, "rows_out": 9}}])
    with WebhookReceiver() as hook, caplog.at_level("WARNING", logger="hedgegrid_data.alerts"):
        record_alert(failure, alerts_file, hook.url)
        record_alert(check, alerts_file, hook.url)
        payloads = hook.payloads
    assert [p["kind"] for p in payloads] == ["run_failure", "check_failure"]
    assert payloads[0]["text"].startswith("[hedgegrid-data error] run 01234567 of binance_um_trades_daily "
                                          "partition 2024-01-02|BTCUSDT failed: binance_um_trades_raw: http://x/")
    assert payloads[1]["summary"] == ("check rows_in_equals_rows_out on binance_um_trades_catalog partition "
                                      "2024-01-02|BTCUSDT failed")
    assert payloads[1]["details"]["failures"][0]["metadata"] == {"rows_in": 10, "rows_out": 9}
    assert read_alerts(alerts_file) == [json.loads(json.dumps(p)) for p in payloads]
    assert "ALERT run_failure" in caplog.text


def test_a_failing_webhook_does_not_lose_the_alert(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    alerts_file = tmp_path / "alerts.jsonl"
    with WebhookReceiver(status=500) as hook, caplog.at_level("ERROR", logger="hedgegrid_data.alerts"):
        record_alert(Alert("late_day", "warning", "late"), alerts_file, hook.url)
        assert len(hook.payloads) == 1
    assert [a["summary"] for a in read_alerts(alerts_file)] == ["late"]
    assert "alert webhook" in caplog.text and "500" in caplog.text


def test_late_days_are_one_alert_per_tick() -> None:
    late = [(f"2024-03-0{d}|BTCUSDT", f"data/x/BTCUSDT-trades-2024-03-0{d}.zip") for d in range(1, 8)]
    alert = late_days_alert("binance_um_trades", late, dt.timedelta(hours=36))
    assert alert.summary == ("binance_um_trades: 7 day(s) still not published 36 h after the day ended: "
                             "2024-03-01|BTCUSDT, 2024-03-02|BTCUSDT, 2024-03-03|BTCUSDT, 2024-03-04|BTCUSDT, "
                             "2024-03-05|BTCUSDT and 2 more")
    assert alert.details["checksum_keys"][0] == "data/x/BTCUSDT-trades-2024-03-01.zip.CHECKSUM"
    assert (alert.kind, alert.severity) == ("late_day", "warning")


def test_universe_command(archive_root: Path) -> None:
    _mirror(archive_root)
    with ArchiveServer(archive_root) as server:
        completed = subprocess.run(
            [sys.executable, "-m", "hedgegrid_data.universe", "--market", "um", "--data-type", "trades",
             "--listing-url", server.url], capture_output=True, text=True, check=False, timeout=120)
        as_json = subprocess.run(
            [sys.executable, "-m", "hedgegrid_data.universe", "--market", "spot", "--data-type", "trades",
             "--json", "--no-first-dates"], capture_output=True, text=True, check=False, timeout=120,
            env={**os.environ, "HEDGEGRID_BINANCE_LISTING_URL": server.url})
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "BTCUSDT\t2024-01-02\nETHUSDT\t2024-01-05\n"
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == [{"symbol": "BTCUSDT", "first_date": None, "first_key": None}]


def test_partition_of_a_run() -> None:
    assert partition_of_run({"dagster/partition": "2024-01-02|BTCUSDT"}) == "2024-01-02|BTCUSDT"
    one = {"dagster/asset_partition_range_start": "2024-01-02|BTCUSDT",
           "dagster/asset_partition_range_end": "2024-01-02|BTCUSDT"}
    assert partition_of_run(one) == "2024-01-02|BTCUSDT"
    assert partition_of_run({**one, "dagster/asset_partition_range_end": "2024-01-03|BTCUSDT"}) == (
        "2024-01-02|BTCUSDT...2024-01-03|BTCUSDT")
    assert partition_of_run({}) is None


def test_check_failures_are_one_alert_per_check() -> None:
    failures = [{"partition": f"2024-01-0{d}|BTCUSDT", "run_id": f"r{d}", "description": "3 spikes",
                 "metadata": {}} for d in (2, 3)]
    alert = check_failure_alert("binance_um_trades_normalized", "volume_spikes", "WARN", failures)
    assert alert.severity == "warning"
    assert alert.summary == "check volume_spikes on binance_um_trades_normalized for 2 evaluation(s) failed: 3 spikes"
    assert alert.details["partitions"] == ["2024-01-02|BTCUSDT", "2024-01-03|BTCUSDT"]
