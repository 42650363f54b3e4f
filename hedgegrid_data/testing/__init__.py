"""Test tools: a generator of Binance archive files and a local server that serves them."""
