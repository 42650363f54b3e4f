"""A Nautilus actor that records every market-data event it receives, for BacktestNode acceptance tests."""

from __future__ import annotations

import json

from nautilus_trader.common.actor import Actor
from nautilus_trader.config import ActorConfig
from nautilus_trader.model.data import Bar, BarType, TradeTick
from nautilus_trader.model.identifiers import InstrumentId


class RecordingActorConfig(ActorConfig, frozen=True):
    output_path: str
    trade_instruments: list[str] = []
    bar_types: list[str] = []


class RecordingActor(Actor):
    """Subscribes to the configured streams and writes one JSON line per event received, in arrival order."""

    def __init__(self, config: RecordingActorConfig) -> None:
        super().__init__(config)
        self._output_path = config.output_path
        self._trade_instruments = config.trade_instruments
        self._bar_types = config.bar_types
        self._lines: list[str] = []

    def on_start(self) -> None:
        for instrument_id in self._trade_instruments:
            self.subscribe_trade_ticks(InstrumentId.from_str(instrument_id))
        for bar_type in self._bar_types:
            self.subscribe_bars(BarType.from_str(bar_type))

    def on_trade_tick(self, tick: TradeTick) -> None:
        self._lines.append(json.dumps(
            ["TradeTick", tick.instrument_id.value, tick.trade_id.value, str(tick.price), str(tick.size),
             int(tick.aggressor_side), tick.ts_event, tick.ts_init]))

    def on_bar(self, bar: Bar) -> None:
        self._lines.append(json.dumps(
            ["Bar", str(bar.bar_type), str(bar.open), str(bar.high), str(bar.low), str(bar.close), str(bar.volume),
             bar.ts_event, bar.ts_init]))

    def on_stop(self) -> None:
        with open(self._output_path, "w") as f:
            f.write("\n".join(self._lines))
