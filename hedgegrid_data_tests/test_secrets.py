"""Credentials in configured URLs: masked by ``hedgegrid_data.secrets``, configured through ``EnvVar`` so Dagster
shows names, and kept out of asset metadata and alerts (the deployment-wide search is in
``test_secrets_e2e.py``)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest
from dagster import materialize

from hedgegrid_data.assets.factory import build_feed_assets
from hedgegrid_data.automation.alerts import Alert, AlertsResource, default_alerts_resource, read_alerts
from hedgegrid_data.resources import DataStoreResource
from hedgegrid_data.secrets import MASK, redact_text, redact_url, redact_webhook
from hedgegrid_data.sources.binance_archive.feeds import trades_feed
from hedgegrid_data.sources.binance_archive.resources import BinanceArchiveResource, default_archive_resources
from hedgegrid_data.store import DataStore
from hedgegrid_data.testing.archive_server import ArchiveServer
from hedgegrid_data.testing.webhook_receiver import WebhookReceiver
from hedgegrid_data.venues.binance import Market
from hedgegrid_data_tests.conftest import generate_trades

SLACK_KEY = "aBcDeFgHiJkLmNoPqRsTuV12"


@pytest.mark.parametrize(("url", "shown"), [
    ("http://user:s3cretpw@mirror.internal/data/spot/x.zip", "http://user:***@mirror.internal/data/spot/x.zip"),
    ("https://ghp0token0123456789@mirror/x", "https://***@mirror/x"),
    ("https://mirror/data?token=abc&prefix=data/&sig=xyz", "https://mirror/data?token=***&prefix=data/&sig=***"),
    ("https://s3.example/bucket?delimiter=/&prefix=data/spot/&marker=a&max-keys=1",
     "https://s3.example/bucket?delimiter=/&prefix=data/spot/&marker=a&max-keys=1"),
    (f"https://hooks.slack.com/services/T0AB12CD3/B0XY98ZW7/{SLACK_KEY}",
     "https://hooks.slack.com/services/T0AB12CD3/B0XY98ZW7/***"),
    ("https://data.binance.vision/data/futures/um/daily/trades/1000SHIBUSDT/1000SHIBUSDT-trades-2024-01-02.zip",
     "https://data.binance.vision/data/futures/um/daily/trades/1000SHIBUSDT/1000SHIBUSDT-trades-2024-01-02.zip"),
    ("./mirror", "./mirror"),
    ("/srv/mirror/data/spot", "/srv/mirror/data/spot"),
])
def test_redact_url_masks_passwords_tokens_and_key_like_path_segments(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_a_webhook_is_shown_by_its_host_only_and_urls_inside_text_are_redacted() -> None:
    assert redact_webhook(f"https://hooks.slack.com/services/T0AB12CD3/B0XY98ZW7/{SLACK_KEY}") == (
        "https://hooks.slack.com/***")
    assert redact_webhook("http://127.0.0.1:8080/hooks/whatever?key=1") == "http://127.0.0.1:8080/***"
    text = "GET 'http://u:pw@h:1/a.zip': HTTP 404, not published (yet); see https://x/y?token=t."
    assert redact_text(text) == "GET 'http://u:***@h:1/a.zip': HTTP 404, not published (yet); see https://x/y?token=***"


def test_resources_are_configured_with_the_variables_names_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEDGEGRID_BINANCE_URL", "http://user:s3cretpw@mirror.internal")
    monkeypatch.delenv("HEDGEGRID_BINANCE_LISTING_URL", raising=False)
    monkeypatch.setenv("HEDGEGRID_ALERT_WEBHOOK", f"https://hooks.slack.com/services/T0/B0/{SLACK_KEY}")
    resources = {**default_archive_resources(), "hedgegrid_alerts": default_alerts_resource()}
    shown = {key: resource.get_resource_definition().config_schema.as_field().default_value
             for key, resource in resources.items()}
    assert shown["binance_archive"]["base_url"] == {"env": "HEDGEGRID_BINANCE_URL"}
    assert shown["binance_listing"]["listing_url"] == "https://s3-ap-northeast-1.amazonaws.com/data.binance.vision"
    assert shown["hedgegrid_alerts"]["webhook_url"] == {"env": "HEDGEGRID_ALERT_WEBHOOK"}
    assert "s3cretpw" not in json.dumps(shown) and SLACK_KEY not in json.dumps(shown)

    monkeypatch.setenv("HEDGEGRID_BINANCE_URL", "./mirror")  # a local mirror lists itself
    assert default_archive_resources()["binance_listing"].get_resource_definition().config_schema.as_field(
        ).default_value["listing_url"] == {"env": "HEDGEGRID_BINANCE_URL"}
    monkeypatch.setenv("HEDGEGRID_BINANCE_LISTING_URL", "https://listing?sig=1")
    assert default_archive_resources()["binance_listing"].get_resource_definition().config_schema.as_field(
        ).default_value["listing_url"] == {"env": "HEDGEGRID_BINANCE_LISTING_URL"}

    for name in ("HEDGEGRID_BINANCE_URL", "HEDGEGRID_BINANCE_LISTING_URL"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("HEDGEGRID_ALERT_WEBHOOK", "")  # empty is unset
    assert default_archive_resources()["binance_archive"].base_url == "https://data.binance.vision"
    assert default_alerts_resource().webhook_url is None


def test_raw_asset_metadata_shows_the_download_url_without_its_password(archive_root: Path,
                                                                        data_store: DataStore) -> None:
    generate_trades(archive_root, Market.USDM, "BTCUSDT", "2024-01-02", 500)
    with ArchiveServer(archive_root, credentials=("user", "s3cretpw")) as server:
        result = materialize(
            build_feed_assets(trades_feed(Market.USDM)), partition_key="2024-01-02|BTCUSDT",
            resources={"data_store": DataStoreResource(data_dir=str(data_store.root)),
                       "binance_archive": BinanceArchiveResource(base_url=server.url_with_credentials)})
        assert result.success
        assert httpx.get(f"{server.url}/data/futures/um/daily/trades/").status_code == 401  # without credentials
    [raw] = [m for m in result.get_asset_materialization_events()
             if m.asset_key.to_user_string() == "binance_um_trades_raw"]
    url = raw.materialization.metadata["url"].value
    assert url.startswith("http://user:***@127.0.0.1:") and url.endswith("BTCUSDT-trades-2024-01-02.zip")


def test_a_failed_webhook_post_is_logged_with_the_webhook_redacted(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    with WebhookReceiver(status=500, path=f"/services/T0/B0/{SLACK_KEY}") as receiver:
        resource = AlertsResource(alerts_file=str(tmp_path / "alerts.jsonl"), webhook_url=receiver.url)
        alert = Alert("run_failure", "error", "download failed: http://user:s3cretpw@mirror/x.zip: HTTP 404",
                      {"steps": [{"error": "http://user:s3cretpw@mirror/x.zip: HTTP 404"}]})
        with caplog.at_level(logging.WARNING, logger="hedgegrid_data.alerts"):
            resource.record(alert)
        [payload] = receiver.payloads
    host = receiver.url.split("/services")[0]
    assert f"alert webhook {host}/{MASK} failed: HTTP 500" in caplog.text
    everything = caplog.text + json.dumps(payload) + (tmp_path / "alerts.jsonl").read_text()
    assert SLACK_KEY not in everything and "s3cretpw" not in everything
    assert read_alerts(tmp_path / "alerts.jsonl")[0]["details"]["steps"][0]["error"] == (
        "http://user:***@mirror/x.zip: HTTP 404")
