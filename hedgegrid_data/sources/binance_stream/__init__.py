"""Binance WebSocket streams: the one parser of their frames (``frames``), shared by every source that carries them
(captured JSONL files, Tardis replays, the live capture daemon)."""
