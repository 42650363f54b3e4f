"""Loopback HTTP server mimicking data.binance.vision (objects + S3 ListObjects v1), with fault injection and,
like a private mirror, optional HTTP basic authentication."""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import gzip
import hashlib
import socket
import sys
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

BUCKET = "data.binance.vision"
LISTING_KEY = ""


@dataclass(frozen=True)
class Fault:
    """One misbehaviour, consumed by one request; build with one of the class methods."""

    kind: str
    code: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    fraction: float = 1.0
    seconds: float = 0.0
    size: int = 0

    @classmethod
    def status(cls, code: int, headers: dict[str, str] | None = None, body: bytes = b"") -> Fault:
        return cls("status", code=code, headers=dict(headers or {}), body=body)

    @classmethod
    def truncate(cls, fraction: float) -> Fault:
        """Announce the full Content-Length, send ``fraction`` of the body, then close the connection."""
        return cls("truncate", fraction=fraction)

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        return cls("delay", seconds=seconds)

    @classmethod
    def redirect(cls, location: str, code: int = 302) -> Fault:
        return cls.status(code, {"Location": location})

    @classmethod
    def trickle(cls, seconds: float) -> Fault:
        """Announce the full Content-Length, then send the body one byte every ``seconds`` (until hung up on)."""
        return cls("trickle", seconds=seconds)

    @classmethod
    def gzipped(cls) -> Fault:
        """Gzip the body as a mirror might, with ``Content-Encoding: gzip`` and the compressed Content-Length."""
        return cls("gzipped")

    @classmethod
    def bad_encoding(cls) -> Fault:
        """Say ``Content-Encoding: gzip`` and send the body as it is."""
        return cls("bad_encoding")

    @classmethod
    def huge_body(cls, size: int, fill: bytes = b"0", content_length: bool = True) -> Fault:
        """Answer 200 with ``size`` bytes repeating ``fill``, made as they are sent; without ``content_length``
        the body runs until the connection closes."""
        return cls("huge_body", size=size, body=fill, fraction=float(content_length))


def _etag(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


def _content_type(key: str) -> str:
    if key.endswith(".zip"):
        return "application/zip"
    if key.endswith(".CHECKSUM"):
        return "text/plain"
    return "application/octet-stream"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self._handle(send_body=True)

    def do_HEAD(self) -> None:
        self._handle(send_body=False)

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _handle(self, send_body: bool) -> None:
        archive = self.server.archive
        archive._record(self.command, self.path)
        if archive.authorization is not None and self.headers.get("Authorization") != archive.authorization:
            self._respond(401, b"Unauthorized", "text/plain", send_body, {"WWW-Authenticate": 'Basic realm="mirror"'})
            return
        url = urlsplit(self.path)
        listing = url.path in ("/", f"/{BUCKET}")
        key = LISTING_KEY if listing else unquote(url.path).lstrip("/")
        fault = archive._next_fault(key)
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.seconds)
            fault = None
        if fault is not None and fault.kind == "status":
            self._respond(fault.code, fault.body, "text/plain", send_body, fault.headers)
            return
        if fault is not None and fault.kind == "huge_body":
            self._send_huge(fault, send_body)
            return
        if listing:
            body = archive.listing_xml(parse_qs(url.query, keep_blank_values=True)).encode()
            self._respond(200, body, "application/xml", send_body)
            return
        path = archive._object_path(key)
        if path is None:
            self._respond(404, b"Not Found", "text/plain", send_body)
            return
        data = path.read_bytes()
        headers = {"ETag": _etag(data), "Last-Modified": email.utils.formatdate(path.stat().st_mtime, usegmt=True)}
        if fault is not None and fault.kind == "truncate":
            self._send_head(200, len(data), _content_type(key), headers)
            if send_body:
                self.wfile.write(data[: int(len(data) * fault.fraction)])
                self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault is not None and fault.kind == "trickle":
            self._send_head(200, len(data), _content_type(key), headers)
            if send_body:
                for i in range(len(data)):
                    self.wfile.write(data[i:i + 1])
                    self.wfile.flush()
                    time.sleep(fault.seconds)
            return
        if fault is not None and fault.kind in ("gzipped", "bad_encoding"):
            headers["Content-Encoding"] = "gzip"
            if fault.kind == "gzipped":
                data = gzip.compress(data)
        self._respond(200, data, _content_type(key), send_body, headers)

    def _send_huge(self, fault: Fault, send_body: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        if fault.fraction:
            self.send_header("Content-Length", str(fault.size))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if not send_body:
            return
        block = fault.body * max(1, (1 << 16) // len(fault.body))
        sent = 0
        while sent < fault.size:
            piece = block[: fault.size - sent]
            self.wfile.write(piece)
            sent += len(piece)
            self.server.archive._count_sent(len(piece))

    def _send_head(self, code: int, length: int, content_type: str, headers: dict[str, str]) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _respond(
        self, code: int, body: bytes, content_type: str, send_body: bool, headers: dict[str, str] | None = None
    ) -> None:
        self._send_head(code, len(body), content_type, headers or {})
        if send_body:
            self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # clients open many connections at once (tardis-client up to 60): with socketserver's default backlog of 5 the
    # kernel drops their connects, retried after 1, 3, 7… s, and a test stalled for minutes now and then
    request_queue_size = 128
    archive: ArchiveServer

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients hanging up mid-body are what the truncation faults provoke: not worth a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class ArchiveServer:
    """Serve ``root`` (laid out by archive key) on 127.0.0.1 like data.binance.vision and its S3 listing.

    The listing answers at ``GET /?delimiter=/&prefix=...`` (and at ``/data.binance.vision?...``, the real
    path-style URL). ``inject(key, *faults)`` queues faults consumed one per request for that key; listing
    requests consume the faults queued under ``LISTING_KEY``. With ``credentials`` (user, password) every request
    must authenticate with them (HTTP basic), as clients do for ``url_with_credentials``
    (``http://user:password@host/``); other requests get 401.
    """

    handler: type[BaseHTTPRequestHandler] = _Handler  # a subclass may answer other paths its own way

    def __init__(self, root: Path, page_size: int = 1000, credentials: tuple[str, str] | None = None):
        self.root = Path(root).resolve()
        self.page_size = page_size
        self.credentials = credentials
        self.authorization = None if credentials is None else (
            "Basic " + base64.b64encode(":".join(credentials).encode()).decode())
        self._lock = threading.Lock()
        self._faults: defaultdict[str, deque[Fault]] = defaultdict(deque)
        self._requests: list[tuple[str, str]] = []
        self._huge_bytes_sent = 0
        self._httpd = _Server(("127.0.0.1", 0), self.handler)
        self._httpd.archive = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url_with_credentials(self) -> str:
        """``url`` with the user and password in it (``http://user:password@127.0.0.1:port``)."""
        assert self.credentials is not None, "the server was started without credentials"
        host, port = self._httpd.server_address[:2]
        return f"http://{self.credentials[0]}:{self.credentials[1]}@{host}:{port}"

    @property
    def requests(self) -> list[tuple[str, str]]:
        """(method, path with query) of every request received so far."""
        with self._lock:
            return list(self._requests)

    @property
    def huge_bytes_sent(self) -> int:
        """Bytes of ``Fault.huge_body`` bodies written to clients so far (what they did not refuse in time)."""
        with self._lock:
            return self._huge_bytes_sent

    def inject(self, key: str, *faults: Fault) -> None:
        with self._lock:
            self._faults[key.lstrip("/")].extend(faults)

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> ArchiveServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _record(self, method: str, path: str) -> None:
        with self._lock:
            self._requests.append((method, path))

    def _count_sent(self, n: int) -> None:
        with self._lock:
            self._huge_bytes_sent += n

    def _next_fault(self, key: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(key)
            return queue.popleft() if queue else None

    def _object_path(self, key: str) -> Path | None:
        path = (self.root / key).resolve()
        if not key or not path.is_relative_to(self.root) or not path.is_file():
            return None
        return path

    def _keys(self, prefix: str) -> list[str]:
        keys = (path.relative_to(self.root).as_posix() for path in self.root.rglob("*") if path.is_file())
        return sorted(key for key in keys if key.startswith(prefix))

    def listing_xml(self, query: dict[str, list[str]]) -> str:
        """The ListObjects v1 page the bucket would answer for ``query`` (prefix, delimiter, marker, max-keys)."""
        prefix = query.get("prefix", [""])[0]
        delimiter = query.get("delimiter", [""])[0]
        marker = query.get("marker", [""])[0]
        max_keys = min(int(query.get("max-keys", [self.page_size])[0]), self.page_size)
        entries: list[tuple[str, bool]] = []
        for key in self._keys(prefix):
            rest = key[len(prefix) :]
            if delimiter and delimiter in rest:
                entry = (prefix + rest[: rest.index(delimiter) + len(delimiter)], True)
            else:
                entry = (key, False)
            if entry[0] > marker and (not entries or entries[-1] != entry):
                entries.append(entry)
        page, truncated = entries[:max_keys], len(entries) > max_keys
        parts = [
            '<?xml version="1.0" encoding="UTF-8"?>\n',
            '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
            f"<Name>{BUCKET}</Name><Prefix>{escape(prefix)}</Prefix><Marker>{escape(marker)}</Marker>",
            f"<MaxKeys>{max_keys}</MaxKeys>",
        ]
        if delimiter:
            parts.append(f"<Delimiter>{escape(delimiter)}</Delimiter>")
        parts.append(f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>")
        if truncated:
            parts.append(f"<NextMarker>{escape(page[-1][0])}</NextMarker>")
        for name, is_prefix in page:
            if not is_prefix:
                parts.append(self._contents_xml(name))
        for name, is_prefix in page:
            if is_prefix:
                parts.append(f"<CommonPrefixes><Prefix>{escape(name)}</Prefix></CommonPrefixes>")
        parts.append("</ListBucketResult>")
        return "".join(parts)

    def _contents_xml(self, key: str) -> str:
        path = self.root / key
        stat = path.stat()
        modified = dt.datetime.fromtimestamp(int(stat.st_mtime), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        etag = escape(_etag(path.read_bytes()), {'"': "&quot;"})
        return (
            f"<Contents><Key>{escape(key)}</Key><LastModified>{modified}</LastModified>"
            f"<ETag>{etag}</ETag><Size>{stat.st_size}</Size>"
            "<StorageClass>STANDARD</StorageClass></Contents>"
        )
