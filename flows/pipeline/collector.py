"""The interpreter's cyclic garbage collector, paused while a sync runs.

A sync's process holds millions of long-lived objects (Prefect, dbt's manifest, Great Expectations), and every
full collection walks them all. Extraction (a list per sheet row) and the XLSX bilan (an object per cell) make
the collector run hundreds of times: 13 % of the CPU of a sync at 4× the national network, more per row as the
network grows. Reference counting still frees everything that forms no cycle; the few cycles a run creates wait
for the collector's return (`make bench`, 2026-12-05: 4× 76.5 → 67.0 s, peak memory +65 to +95 MiB).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """No automatic cyclic collection inside; the collector is back as it was after, whatever happened inside."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
