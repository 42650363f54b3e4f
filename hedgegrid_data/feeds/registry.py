"""The feed registry: every feed the deployment builds, and the one declared publisher of each catalog series.

Two feeds may carry the same instrument (the archive's trades and aggTrades, a Tardis copy of Binance trades):
both keep their normalized tables, but only one may write the instrument's days of a Nautilus type into the
catalog. ``FeedRegistry`` refuses a deployment where two feeds would publish the same type for the same
instrument, or where two feeds share a name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from hedgegrid_data.feeds.feed import Feed


def published_series(feeds: Iterable[Feed]) -> set[tuple[str, type]]:
    """(instrument id, Nautilus type) of every series the declared publishers among ``feeds`` write."""
    return {(f.instrument_ids(s), f.publishes) for f in feeds if f.publishes and f.publisher for s in f.symbols}


class FeedRegistry:
    def __init__(self, feeds: Iterable[Feed]):
        self.feeds = list(feeds)
        names = [f.name for f in self.feeds]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"feed names must be unique: {repeated}")
        self.publishers: dict[tuple[str, str], Feed] = {}
        for feed in self.feeds:
            if feed.publishes is None or not feed.publisher:
                continue
            for symbol in feed.symbols:
                key = (feed.instrument_ids(symbol), feed.publishes.__name__)
                other = self.publishers.setdefault(key, feed)
                if other is not feed:
                    raise ValueError(f"{other.name} and {feed.name} would both publish {key[1]} for {key[0]}: "
                                     "declare one of them the publisher")

    def __iter__(self) -> Iterator[Feed]:
        return iter(self.feeds)

    def publisher(self, instrument_id: str, data_type: type) -> Feed | None:
        """The feed that publishes ``data_type`` for ``instrument_id``, if any."""
        return self.publishers.get((instrument_id, data_type.__name__))
