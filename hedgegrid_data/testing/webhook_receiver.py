"""Loopback HTTP endpoint that records JSON POSTs, standing in for a chat/incident webhook in tests."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        receiver = self.server.receiver
        with receiver._lock:
            receiver._received.append((self.path, self.headers.get("Content-Type", ""), json.loads(body or b"null")))
        status = receiver.status
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: WebhookReceiver


class WebhookReceiver:
    """``url`` accepts POSTs and answers ``status`` (200 unless changed); ``payloads`` are the decoded bodies.
    ``path`` is the URL's path: where chat services put the webhook's secret key (``/services/T…/B…/<key>``)."""

    def __init__(self, status: int = 200, path: str = "/hooks/hedgegrid"):
        self.status = status
        self.path = path
        self._lock = threading.Lock()
        self._received: list[tuple[str, str, Any]] = []
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.receiver = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}{self.path}"

    @property
    def payloads(self) -> list[Any]:
        with self._lock:
            return [payload for _, _, payload in self._received]

    @property
    def content_types(self) -> list[str]:
        with self._lock:
            return [content_type for _, content_type, _ in self._received]

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> WebhookReceiver:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
