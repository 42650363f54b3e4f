"""Loopback HTTP server mimicking public.bybit.com, with the fault injection of the Binance archive server.

Files are served by key (GET and HEAD, with Content-Length, an ETag that changes with the bytes and
Last-Modified); folders answer an HTML index page like the archive's, which — like the archive's — may leave
files out (``unlisted``). Every request's User-Agent is recorded.
"""

from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import unquote, urlsplit

from hedgegrid_data.testing.archive_server import ArchiveServer, Fault, _Handler

__all__ = ["BybitArchiveServer", "Fault"]


class _BybitHandler(_Handler):
    def _handle(self, send_body: bool) -> None:
        archive = self.server.archive
        assert isinstance(archive, BybitArchiveServer)
        archive.user_agents.append(self.headers.get("User-Agent", ""))
        path = unquote(urlsplit(self.path).path)
        if not path.endswith("/"):
            super()._handle(send_body)
            return
        archive._record(self.command, self.path)
        page = archive.index_html(path.strip("/"))
        if page is None:
            self._respond(404, b"Not Found", "text/plain", send_body)
        else:
            self._respond(200, page.encode(), "text/html; charset=utf-8", send_body)


class BybitArchiveServer(ArchiveServer):
    """Serve ``root`` (laid out like public.bybit.com: ``trading/…``, ``spot/…``) on 127.0.0.1."""

    handler = _BybitHandler

    def __init__(self, root: Path, unlisted: frozenset[str] = frozenset()):
        self.user_agents: list[str] = []
        self.unlisted = set(unlisted)  # keys the index pages leave out (the archive's are incomplete too)
        super().__init__(root)

    def index_html(self, folder: str) -> str | None:
        """The folder's index page (its sub-folders and listed files), or None when there is no such folder."""
        directory = (self.root / folder).resolve()
        if not directory.is_relative_to(self.root) or not directory.is_dir():
            return None
        names = []
        for child in sorted(directory.iterdir()):
            key = child.relative_to(self.root).as_posix()
            if child.is_dir():
                names.append(child.name + "/")
            elif key not in self.unlisted:
                names.append(child.name)
        links = "\n".join(f'<li><a href="{html.escape(n)}">{html.escape(n)}</a></li>' for n in names)
        return f"<html><body><h1>/{html.escape(folder)}</h1>\n<ul>\n{links}\n</ul></body></html>\n"
