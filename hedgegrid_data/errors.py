"""Errors the pipeline fails closed with; each names the file (and line) it is about."""

from __future__ import annotations


class HedgegridDataError(Exception):
    """Base class: the day is not published, not verified or not valid; nothing was written.

    ``published_day`` says what became of the day's published version when the error failed its rebuild
    (``kept`` or ``withdrawn``, ``feeds/republication.py``); a note on the error says it for people.
    """

    published_day: str | None = None


class NotPublishedError(HedgegridDataError):
    """The archive answered 404/403: the file is not published (yet)."""


class ChecksumMismatchError(HedgegridDataError):
    """The downloaded bytes do not hash to the published CHECKSUM."""


class DownloadError(HedgegridDataError):
    """Transient failures persisted beyond the retry budget."""


class ArchiveDataError(HedgegridDataError):
    """The content of a verified archive file is unreadable or invalid."""

    def __init__(self, file: str, message: str, line: int | None = None):
        self.file = file
        self.line = line
        where = f"{file}, line {line}" if line is not None else file
        super().__init__(f"{where}: {message}")
