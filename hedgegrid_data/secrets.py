"""Credentials stay out of everything the platform writes or shows: URLs are masked before they reach
provenance, asset metadata, logs, alerts and error messages.

A configured URL may carry a secret in three places, and each is replaced by ``***``:

- its user info: ``http://user:pw@mirror/`` → ``http://user:***@mirror/`` (a bare token as user name,
  ``https://token@host/``, → ``https://***@host/``);
- its query values: ``?token=…``, ``&sig=…`` (every value except the archive listing's own ``prefix``,
  ``delimiter``, ``marker`` and ``max-keys``);
- its path, where webhooks keep their key (Slack ``/services/T…/B…/<secret>``, Discord ``/api/webhooks/<id>/<token>``):
  path segments that look like tokens (20+ letters, digits, ``-`` or ``_``, with both a letter and a digit) in any
  URL, and a webhook's whole path (``redact_webhook``).

A local directory (no ``scheme://``) is not a URL and is returned unchanged.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
PUBLIC_QUERY_KEYS = frozenset({"prefix", "delimiter", "marker", "max-keys"})

_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>`]+")
_TOKEN_SEGMENT = re.compile(r"(?=[^/]*\d)(?=[^/]*[A-Za-z])[A-Za-z0-9_\-]{20,}")


def redact_url(url: str) -> str:
    """``url`` with its user info's password, query values and token-like path segments masked."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not parseable as a URL (an unbalanced "[" in the host): nothing of it can be shown
        return MASK
    if not parts.scheme or not parts.netloc:
        return url
    path = "/".join(MASK if _TOKEN_SEGMENT.fullmatch(segment) else segment for segment in parts.path.split("/"))
    return _join(parts.scheme, parts.netloc, path, parts.query, parts.fragment)


def redact_webhook(url: str) -> str:
    """A webhook URL without its path and query (where incoming-webhook services keep the key): only the
    scheme and host remain, ``https://hooks.slack.com/***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    if not parts.scheme or not parts.netloc:
        return MASK
    return _join(parts.scheme, parts.netloc, "/" + MASK if parts.path.strip("/") or parts.query else parts.path,
                 "", "")


def redact_text(text: str) -> str:
    """Every URL inside ``text`` (an error message, a log line) passed through ``redact_url``."""
    return _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)


def redact_json(value: Any) -> Any:
    """A JSON-like value (dicts, lists, strings) with every URL inside its strings redacted."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: redact_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_json(item) for item in value]
    return value


def _join(scheme: str, netloc: str, path: str, query: str, fragment: str) -> str:
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, has_password, _ = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{host}" if has_password else f"{MASK}@{host}"
    if query:
        query = "&".join(_redact_query_pair(pair) for pair in query.split("&"))
    return urlunsplit((scheme, netloc, path, query, MASK if fragment else ""))


def _redact_query_pair(pair: str) -> str:
    key, has_value, _ = pair.partition("=")
    if not has_value:
        return pair if key.lower() in PUBLIC_QUERY_KEYS else MASK
    return pair if key.lower() in PUBLIC_QUERY_KEYS else f"{key}={MASK}"
