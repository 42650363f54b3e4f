"""Dagster resource of the Bybit archive source: the archive to download from and to ask about files
(``HEDGEGRID_BYBIT_URL``: an http(s) URL or a local mirror directory in the archive's layout)."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource

from hedgegrid_data import settings
from hedgegrid_data.sources.bybit_archive.download import BybitArchive
from hedgegrid_data.sources.http import USER_AGENT, HttpEndpoint, RetryPolicy


class BybitArchiveResource(ConfigurableResource):
    """Bybit's public archive base; ``user_agent`` is sent with every request (default library agents are
    blocked by some archives)."""

    base_url: str = settings.DEFAULT_BYBIT_URL
    download_attempts: int = 5
    user_agent: str = USER_AGENT

    def open(self, raw_root: Path) -> BybitArchive:
        return BybitArchive(self.base_url, raw_root, retry=RetryPolicy(attempts=self.download_attempts),
                            user_agent=self.user_agent)

    def probe(self) -> HttpEndpoint:
        """HEAD requests: is a file published, what is served now."""
        return HttpEndpoint(self.base_url, timeout=15.0, user_agent=self.user_agent)


def default_bybit_resources() -> dict[str, ConfigurableResource]:
    return {"bybit_archive": BybitArchiveResource(
        base_url=settings.resource_env("HEDGEGRID_BYBIT_URL", settings.DEFAULT_BYBIT_URL))}
