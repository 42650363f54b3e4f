"""A Nautilus actor that records every market-data event it receives, for BacktestNode acceptance tests."""

from __future__ import annotations

import json
from pathlib import Path

from nautilus_trader.backtest.node import BacktestNode
from nautilus_trader.common.actor import Actor
from nautilus_trader.config import (
    ActorConfig,
    BacktestDataConfig,
    BacktestEngineConfig,
    BacktestRunConfig,
    BacktestVenueConfig,
    ImportableActorConfig,
    LoggingConfig,
)
from nautilus_trader.model.data import (
    Bar,
    BarType,
    FundingRateUpdate,
    IndexPriceUpdate,
    MarkPriceUpdate,
    QuoteTick,
    TradeTick,
)
from nautilus_trader.model.identifiers import InstrumentId


class RecordingActorConfig(ActorConfig, frozen=True):
    output_path: str
    trade_instruments: list[str] = []
    quote_instruments: list[str] = []
    bar_types: list[str] = []
    mark_price_instruments: list[str] = []
    index_price_instruments: list[str] = []
    funding_rate_instruments: list[str] = []


class RecordingActor(Actor):
    """Subscribes to the configured streams and writes one JSON line per event received, in arrival order."""

    def __init__(self, config: RecordingActorConfig) -> None:
        super().__init__(config)
        self._output_path = config.output_path
        self._trade_instruments = config.trade_instruments
        self._quote_instruments = config.quote_instruments
        self._bar_types = config.bar_types
        self._mark_price_instruments = config.mark_price_instruments
        self._index_price_instruments = config.index_price_instruments
        self._funding_rate_instruments = config.funding_rate_instruments
        self._lines: list[str] = []

    def on_start(self) -> None:
        for instrument_id in self._trade_instruments:
            self.subscribe_trade_ticks(InstrumentId.from_str(instrument_id))
        for instrument_id in self._quote_instruments:
            self.subscribe_quote_ticks(InstrumentId.from_str(instrument_id))
        for bar_type in self._bar_types:
            self.subscribe_bars(BarType.from_str(bar_type))
        for instrument_id in self._mark_price_instruments:
            self.subscribe_mark_prices(InstrumentId.from_str(instrument_id))
        for instrument_id in self._index_price_instruments:
            self.subscribe_index_prices(InstrumentId.from_str(instrument_id))
        for instrument_id in self._funding_rate_instruments:
            self.subscribe_funding_rates(InstrumentId.from_str(instrument_id))

    def on_trade_tick(self, tick: TradeTick) -> None:
        self._lines.append(json.dumps(
            ["TradeTick", tick.instrument_id.value, tick.trade_id.value, str(tick.price), str(tick.size),
             int(tick.aggressor_side), tick.ts_event, tick.ts_init]))

    def on_quote_tick(self, tick: QuoteTick) -> None:
        self._lines.append(json.dumps(
            ["QuoteTick", tick.instrument_id.value, str(tick.bid_price), str(tick.bid_size), str(tick.ask_price),
             str(tick.ask_size), tick.ts_event, tick.ts_init]))

    def on_bar(self, bar: Bar) -> None:
        self._lines.append(json.dumps(
            ["Bar", str(bar.bar_type), str(bar.open), str(bar.high), str(bar.low), str(bar.close), str(bar.volume),
             bar.ts_event, bar.ts_init]))

    def on_mark_price(self, update: MarkPriceUpdate) -> None:
        self._lines.append(json.dumps(
            ["MarkPriceUpdate", update.instrument_id.value, str(update.value), update.ts_event, update.ts_init]))

    def on_index_price(self, update: IndexPriceUpdate) -> None:
        self._lines.append(json.dumps(
            ["IndexPriceUpdate", update.instrument_id.value, str(update.value), update.ts_event, update.ts_init]))

    def on_funding_rate(self, update: FundingRateUpdate) -> None:
        self._lines.append(json.dumps(
            ["FundingRateUpdate", update.instrument_id.value, str(update.rate), update.next_funding_ns,
             update.ts_event, update.ts_init]))

    def on_stop(self) -> None:
        with open(self._output_path, "w") as f:
            f.write("\n".join(self._lines))


def record_backtest(output: Path, data: list[BacktestDataConfig], *, account_type: str = "MARGIN",
                    starting_balances: tuple[str, ...] = ("1000000 USDT",), start: str | None = None,
                    end: str | None = None, venues: tuple[str, ...] = ("BINANCE",),
                    **subscriptions: list[str]) -> list[list]:
    """Run one ``BacktestNode`` over ``data`` (one config per data class: in 1.220 two configs of one class deliver
    everything twice) with a ``RecordingActor`` subscribed to ``subscriptions`` (its config fields); return every
    event it received, in arrival order, as the JSON lists it writes to ``output``."""
    config = BacktestRunConfig(
        engine=BacktestEngineConfig(
            logging=LoggingConfig(log_level="ERROR"),
            actors=[ImportableActorConfig(
                actor_path="hedgegrid_data_tests.recording_actor:RecordingActor",
                config_path="hedgegrid_data_tests.recording_actor:RecordingActorConfig",
                config={"output_path": str(output), **subscriptions})]),
        venues=[BacktestVenueConfig(name=venue, oms_type="NETTING", account_type=account_type,
                                    starting_balances=list(starting_balances)) for venue in venues],
        data=data, start=start, end=end, dispose_on_completion=True)
    BacktestNode(configs=[config]).run()
    return [json.loads(line) for line in output.read_text().splitlines()]
