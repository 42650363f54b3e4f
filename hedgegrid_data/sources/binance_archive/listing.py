"""What the archive has right now: its S3 listing (ListObjects v1 XML) and whether a file is published.

The bucket behind data.binance.vision answers an undocumented but stable S3 ListObjects v1 listing at
``<listing url>?delimiter=/&prefix=<prefix>[&marker=<m>]``: at most 1000 entries a page, ``IsTruncated`` +
``NextMarker`` to page on, ``Contents`` (Key, LastModified, ETag, Size) for files and ``CommonPrefixes`` for
sub-folders (symbols). A local mirror directory in the archive's key layout answers the same questions.

Parsing is pure (``parse_listing_page``); ``ArchiveListing`` and ``PublicationProbe`` do the I/O.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from hedgegrid_data.errors import DownloadError, HedgegridDataError
from hedgegrid_data.sources.http import HttpEndpoint, RetryPolicy, normalize_etag, parse_timestamp

MAX_KEYS = 1000
PAGE_MAX_BYTES = 8 << 20  # a page of 1000 entries is ~400 KB
PAGE_DEADLINE = 120.0


@dataclass(frozen=True)
class ListedObject:
    """One file as the listing describes it; ``etag`` is None for a local mirror."""

    key: str
    size: int
    etag: str | None
    last_modified: dt.datetime | None


@dataclass(frozen=True)
class ListingPage:
    objects: tuple[ListedObject, ...]
    prefixes: tuple[str, ...]
    is_truncated: bool
    next_marker: str | None

    @property
    def continuation(self) -> str | None:
        """Marker for the next page: ``NextMarker``, or the last entry when S3 leaves it out; None at the end."""
        if not self.is_truncated:
            return None
        if self.next_marker:
            return self.next_marker
        last = [o.key for o in self.objects] + list(self.prefixes)
        return max(last) if last else None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(element: ET.Element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name:
            return child.text or ""
    return None


def parse_listing_page(xml_text: str | bytes) -> ListingPage:
    """One ListObjects v1 page (namespace-agnostic)."""
    root = ET.fromstring(xml_text)
    if _local(root.tag) != "ListBucketResult":
        raise ValueError(f"not an S3 ListBucketResult: <{_local(root.tag)}>")
    objects: list[ListedObject] = []
    prefixes: list[str] = []
    for element in root:
        name = _local(element.tag)
        if name == "Contents":
            objects.append(ListedObject(
                key=_child_text(element, "Key") or "",
                size=int(_child_text(element, "Size") or 0),
                etag=normalize_etag(_child_text(element, "ETag")),
                last_modified=parse_timestamp(_child_text(element, "LastModified")),
            ))
        elif name == "CommonPrefixes":
            prefixes.append(_child_text(element, "Prefix") or "")
    truncated = (_child_text(root, "IsTruncated") or "false").strip().lower() == "true"
    return ListingPage(tuple(objects), tuple(prefixes), truncated, _child_text(root, "NextMarker") or None)


def marker_before(key: str) -> str:
    """A listing marker that starts the listing exactly at ``key``: everything sorting before it is skipped.

    S3 lists keys strictly after the marker; ``key`` minus its last character sorts after every key that
    sorts before ``key`` when no other key shares that stem (true for archive keys, which end in ``.zip``).
    """
    return key[:-1]


class ArchiveListing(HttpEndpoint):
    """Pages through the bucket listing at ``base`` (an http(s) URL), or walks a local mirror directory."""

    def __init__(self, base: str, *, timeout: float = 30.0, retry: RetryPolicy = RetryPolicy(attempts=4),
                 page_deadline: float = PAGE_DEADLINE, redirect_hosts: Collection[str] | None = None):
        super().__init__(base, timeout=timeout, retry=retry, redirect_hosts=redirect_hosts)
        self.page_deadline = page_deadline

    def pages(self, prefix: str, marker: str | None = None, max_keys: int | None = None) -> Iterator[ListingPage]:
        """Every page under ``prefix`` (delimiter ``/``), following the continuation marker."""
        while True:
            page = self._local_page(prefix, marker) if self.is_local else self._page(prefix, marker, max_keys)
            yield page
            marker = page.continuation
            if marker is None:
                return

    def objects(self, prefix: str, marker: str | None = None) -> Iterator[ListedObject]:
        for page in self.pages(prefix, marker):
            yield from page.objects

    def prefixes(self, prefix: str) -> Iterator[str]:
        for page in self.pages(prefix):
            yield from page.prefixes

    def first_object(self, prefix: str) -> ListedObject | None:
        """The first file under ``prefix`` (keys sort by date within a symbol folder)."""
        for page in self.pages(prefix, max_keys=1):
            if page.objects:
                return page.objects[0]
            if not page.prefixes:
                return None
        return None

    def _page(self, prefix: str, marker: str | None, max_keys: int | None) -> ListingPage:
        params = {"delimiter": "/", "prefix": prefix}
        if marker:
            params["marker"] = marker
        if max_keys:
            params["max-keys"] = str(max_keys)
        body, _ = self._get(self.base, what="listing page", deadline=self.page_deadline, params=params,
                            max_bytes=PAGE_MAX_BYTES, missing_means_unpublished=False)
        try:
            return parse_listing_page(body)
        except (ET.ParseError, ValueError) as exc:
            # the message of a ValueError may quote the body
            where = f": {exc}" if isinstance(exc, ET.ParseError) else ""
            raise DownloadError(f"listing {self.shown_base} prefix={prefix!r}: the answer ({len(body)} bytes) is not "
                                f"an S3 ListObjects page ({type(exc).__name__}{where})") from None

    def _local_page(self, prefix: str, marker: str | None) -> ListingPage:
        """The same page from a local mirror: files under the folder part of ``prefix``, sub-folders as prefixes."""
        root = Path(self.base)
        folder_key, _, stem = prefix.rpartition("/")
        folder = root / folder_key if folder_key else root
        objects: list[ListedObject] = []
        prefixes: list[str] = []
        if folder.is_dir():
            for child in sorted(folder.iterdir(), key=lambda p: p.name):
                if not child.name.startswith(stem):
                    continue
                key = f"{folder_key}/{child.name}" if folder_key else child.name
                if child.is_dir():
                    key += "/"
                if marker is not None and key <= marker:
                    continue
                if child.is_dir():
                    prefixes.append(key)
                else:
                    stat = child.stat()
                    objects.append(ListedObject(
                        key=key, size=stat.st_size, etag=None,
                        last_modified=dt.datetime.fromtimestamp(int(stat.st_mtime), dt.timezone.utc),
                    ))
        return ListingPage(tuple(objects), tuple(prefixes), False, None)


class PublicationProbe(HttpEndpoint):
    """Whether a key is published: HEAD against the archive base URL, or existence in a local mirror."""

    def __init__(self, base: str, *, timeout: float = 15.0, redirect_hosts: Collection[str] | None = None):
        super().__init__(base, timeout=timeout, redirect_hosts=redirect_hosts)

    def is_published(self, key: str) -> bool | None:
        """True (200), False (404/403: not there), None (could not tell: 5xx, 429, network error, a redirect
        that is not followed)."""
        if self.is_local:
            return (Path(self.base) / key).is_file()
        assert self._client is not None
        try:
            response = self._client.head(f"{self.base}/{key}")
        except (httpx.HTTPError, httpx.InvalidURL, HedgegridDataError):
            return None
        if response.status_code in (403, 404):
            return False
        if response.is_success:
            return True
        return None
