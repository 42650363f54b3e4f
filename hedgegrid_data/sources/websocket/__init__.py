"""Captured Binance WebSocket frames (JSONL, plain or ``.gz``) imported from landing folders: the ``[[websocket]]``
entries of the imports file, one feed per import × table, source name ``websocket`` in every store path."""
