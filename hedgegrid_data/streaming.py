"""Stream plumbing: run a batch sink, or a producer, on a worker thread so stages overlap (Arrow releases the GIL)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TypeVar

import pyarrow as pa

BatchWriter = Callable[[pa.RecordBatch], None]
Item = TypeVar("Item")


class _Aborted(Exception):
    """The producer failed; the sink must discard what it wrote."""


_DONE = object()
_ABORT = object()
_ITEM = object()


@contextmanager
def on_worker_thread(open_sink: Callable[[], AbstractContextManager[BatchWriter]],
                     depth: int = 2) -> Iterator[BatchWriter]:
    """Enter ``open_sink()`` on a worker thread and feed it batches through a bounded queue.

    The sink's context exits normally only if the producer's block does; an error on either side
    is raised in the producer, and the sink sees an exception (so it keeps nothing).
    """
    batches: queue.Queue[object] = queue.Queue(maxsize=depth)
    errors: list[BaseException] = []

    def run() -> None:
        item: object = None
        try:
            with open_sink() as write:
                while (item := batches.get()) is not _DONE:
                    if item is _ABORT:
                        raise _Aborted
                    write(item)  # type: ignore[arg-type]
        except BaseException as exc:  # handed to the producer
            errors.append(exc)
            while item not in (_DONE, _ABORT):  # keep the producer from blocking on a full queue
                item = batches.get()

    worker = threading.Thread(target=run, name="batch-sink", daemon=True)
    worker.start()

    def put(batch: pa.RecordBatch) -> None:
        if errors:
            raise errors[0]
        batches.put(batch)

    try:
        yield put
    except BaseException:
        batches.put(_ABORT)
        worker.join()
        raise
    batches.put(_DONE)
    worker.join()
    if errors:
        raise errors[0]


def prefetched(items: Generator[Item, None, None], depth: int = 2) -> Iterator[Item]:
    """Yield ``items`` as a worker thread produces them, at most ``depth`` ahead of the consumer.

    The generator runs, raises and is closed on the worker; its error is raised in the consumer. A
    consumer that stops early stops the worker (and so closes what the generator holds open).
    """
    ready: queue.Queue[tuple[object, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(kind: object, value: object) -> bool:
        while not stop.is_set():
            try:
                ready.put((kind, value), timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in items:
                if not offer(_ITEM, item):
                    return
            offer(_DONE, None)
        except BaseException as exc:  # handed to the consumer
            offer(_ABORT, exc)
        finally:
            items.close()

    worker = threading.Thread(target=run, name="prefetch", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = ready.get()
            if kind is _DONE:
                return
            if kind is _ABORT:
                raise value  # type: ignore[misc]
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()
