"""Process start-up: loading the platform's modules without the garbage collector's passes over them.

Importing Nautilus, polars, pandera and Dagster and building the definitions creates about a million objects
that live as long as the process; the cyclic collector walks all of them on every full pass while they load,
~0.45 CPU-s of a ~3 s start (measured with ``gc.callbacks``). Every run, sensor and CLI process pays that start, so
the entry points load inside ``loading()``: collection waits until the modules are loaded, and what they
created is then frozen (moved where the collector never looks again; it is never garbage).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def loading() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
