"""Bybit's instrument identity: the ids Nautilus' Bybit adapter uses, precisions from the normalized increments,
the Binance counterpart of the cross-venue check, and the symbols file."""

from __future__ import annotations

from pathlib import Path

import pytest
from nautilus_trader.model.instruments import CryptoFuture, CryptoPerpetual, CurrencyPair

from hedgegrid_data.venues.bybit import BybitMarket, BybitSymbolSpec, build_instrument, bybit_universe


def test_instruments_are_named_as_the_bybit_adapter_names_them() -> None:
    universe = bybit_universe()
    linear = build_instrument(universe[BybitMarket.LINEAR]["BTCUSDT"])
    inverse = build_instrument(universe[BybitMarket.INVERSE]["BTCUSD"])
    spot = build_instrument(universe[BybitMarket.SPOT]["ETHUSDT"])
    assert (linear.id.value, type(linear), linear.is_inverse, linear.settlement_currency.code) == (
        "BTCUSDT-LINEAR.BYBIT", CryptoPerpetual, False, "USDT")
    assert (inverse.id.value, type(inverse), inverse.is_inverse, inverse.settlement_currency.code) == (
        "BTCUSD-INVERSE.BYBIT", CryptoPerpetual, True, "BTC")
    assert (spot.id.value, type(spot)) == ("ETHUSDT-SPOT.BYBIT", CurrencyPair)
    assert (linear.price_precision, linear.size_precision) == (1, 3)  # "0.10": precision of the normalized tick
    assert (inverse.price_precision, inverse.size_precision) == (1, 0)  # whole USD contracts
    assert linear.raw_symbol.value == "BTCUSDT"


def test_a_dated_contract_is_a_future() -> None:
    spec = BybitSymbolSpec(BybitMarket.INVERSE, "BTCUSDH25", "BTC", "USD", "0.5", "1", expiry="2025-03-28T08:00:00Z")
    future = build_instrument(spec)
    assert (future.id.value, type(future)) == ("BTCUSDH25-INVERSE.BYBIT", CryptoFuture)
    assert future.expiration_ns == 1_743_148_800 * 10**9
    assert spec.binance_counterpart is None


def test_binance_counterparts() -> None:
    universe = bybit_universe()
    assert universe[BybitMarket.LINEAR]["BTCUSDT"].binance_counterpart == "BTCUSDT-PERP.BINANCE"
    assert universe[BybitMarket.INVERSE]["BTCUSD"].binance_counterpart == "BTCUSD-PERP.BINANCE"
    assert universe[BybitMarket.SPOT]["ETHUSDT"].binance_counterpart == "ETHUSDT.BINANCE"
    spec = BybitSymbolSpec(BybitMarket.LINEAR, "BTCPERP", "BTC", "USDC", "0.1", "0.001", binance="")
    assert spec.binance_counterpart is None


def test_the_symbols_file_names_only_bybit_markets(tmp_path: Path) -> None:
    path = tmp_path / "bybit_symbols.toml"
    path.write_text('[um.BTCUSDT]\nbase = "BTC"\nquote = "USDT"\ntick_size = "0.1"\nstep_size = "0.001"\n')
    with pytest.raises(ValueError, match="unknown Bybit market section"):
        bybit_universe(path)
