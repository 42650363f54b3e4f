"""Stream plumbing: run a batch sink on a worker thread so writing overlaps parsing (Arrow releases the GIL)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pyarrow as pa

BatchWriter = Callable[[pa.RecordBatch], None]


class _Aborted(Exception):
    """The producer failed; the sink must discard what it wrote."""


_DONE = object()
_ABORT = object()


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
