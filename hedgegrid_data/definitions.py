"""Dagster definitions: wiring only."""

from hedgegrid_data.startup import loading

with loading():  # every run, sensor and UI process loads this module first: see startup.py
    from functools import partial

    from dagster import Definitions, in_process_executor

    from hedgegrid_data.assets.binance_reconciliation import build_binance_reconciliation_asset
    from hedgegrid_data.assets.factory import build_feed_assets
    from hedgegrid_data.automation import build_automation
    from hedgegrid_data.automation.accept_finding import build_accept_finding_job
    from hedgegrid_data.feeds.configured import configured_feeds
    from hedgegrid_data.resources import default_data_store
    from hedgegrid_data.sources.binance_archive.reconciliation_day import (
        reconciliation_group,
        reconciliation_verdicts_file,
    )
    from hedgegrid_data.sources.binance_archive.resources import default_archive_resources
    from hedgegrid_data.sources.bybit_archive.resources import default_bybit_resources
    from hedgegrid_data.sources.tardis.resources import default_tardis_resources
    from hedgegrid_data.venues.binance import Market

    feeds = configured_feeds()
    automation = build_automation(feeds)
    accept_finding = build_accept_finding_job(
        {**{feed.name: feed.quality_file for feed in feeds},
         **{reconciliation_group(market): partial(reconciliation_verdicts_file, market) for market in Market}})

    defs = Definitions(
        assets=[
            *(a for feed in feeds for a in build_feed_assets(feed)),
            *(build_binance_reconciliation_asset(market, feeds) for market in Market),
            *automation["assets"],
        ],
        resources={"data_store": default_data_store(), **default_archive_resources(), **default_bybit_resources(),
                   **default_tardis_resources(), **automation["resources"]},
        jobs=[*automation["jobs"], accept_finding],
        schedules=automation["schedules"],
        sensors=automation["sensors"],
        executor=in_process_executor,
    )
