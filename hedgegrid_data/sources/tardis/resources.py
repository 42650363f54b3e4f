"""Dagster resource of the Tardis source: the API key (``TARDIS_API_KEY``, handed over as a Dagster ``EnvVar`` so
the UI and the run storage show the variable's name, never its value), the datasets server and the replay API
(``HEDGEGRID_TARDIS_DATASETS_URL``, ``HEDGEGRID_TARDIS_API_URL``: loopback fakes, mirrors)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dagster import ConfigurableResource

from hedgegrid_data import settings
from hedgegrid_data.sources.http import RetryPolicy
from hedgegrid_data.sources.tardis.download import DEFAULT_DATASETS_URL, TardisDatasets

if TYPE_CHECKING:  # tardis-client and aiohttp load only in a process that replays
    from hedgegrid_data.sources.tardis.replay import TardisReplay

DEFAULT_API_URL = "https://api.tardis.dev"


class TardisResource(ConfigurableResource):
    """Tardis.dev: ``api_key`` empty serves only the first day of each month."""

    api_key: str = ""
    datasets_url: str = DEFAULT_DATASETS_URL
    api_url: str = DEFAULT_API_URL
    download_attempts: int = 5
    base_delay: float = 0.5
    redirect_hosts: str = ""  # comma-separated hosts besides the datasets server's its redirects may lead to

    def datasets(self, raw_root: Path) -> TardisDatasets:
        return TardisDatasets(self.datasets_url, raw_root, self.api_key,
                              retry=RetryPolicy(attempts=self.download_attempts, base_delay=self.base_delay),
                              redirect_hosts=[h.strip() for h in self.redirect_hosts.split(",") if h.strip()])

    def replay(self, raw_root: Path) -> TardisReplay:
        """The replay client, its cache under the data directory (``raw/tardis_replay/cache``)."""
        from hedgegrid_data.sources.tardis.replay import TardisReplay

        return TardisReplay(self.api_url, raw_root, raw_root / "cache", self.api_key)


def default_tardis_resources() -> dict[str, ConfigurableResource]:
    return {"tardis": TardisResource(
        api_key=settings.resource_env("TARDIS_API_KEY", ""),
        datasets_url=settings.resource_env("HEDGEGRID_TARDIS_DATASETS_URL", DEFAULT_DATASETS_URL),
        api_url=settings.resource_env("HEDGEGRID_TARDIS_API_URL", DEFAULT_API_URL))}
