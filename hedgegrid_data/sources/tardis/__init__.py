"""Tardis.dev as a source: its downloadable CSV datasets (httpx) and its replay of historical WebSocket messages
(``tardis-client``), of Binance spot, USD-M and COIN-M, into the canonical tables and the catalog."""
