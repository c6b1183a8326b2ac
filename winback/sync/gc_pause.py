"""The garbage collector's pause while syncs run: one process-wide setting, counted across syncs.

A sync allocates and frees millions of short-lived objects; this module keeps the collector from
walking the rest of the process over and over meanwhile (see :func:`long_lived_objects_frozen`).
It changes process-wide state, so the first running sync sets it and the last one restores it.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_freezes = 0
_freezes_lock = threading.Lock()
_thresholds_before: tuple[int, int, int] | None = None
SYNC_GC_GEN0_THRESHOLD = 100_000
"""Allocations between two young collections while a sync runs (Python's default is 700).

A sync makes almost no garbage cycles: its records, rows and parameters are freed by reference
counting, and the one cycle each HTTP response used to be part of is broken where it is read
(:func:`winback.connectors.http._release_stream`; a test holds a whole sync to that). A young
collection then only walks live objects, the pages read ahead and the batch being written, so it
is taken rarely: a 60k-order Ecwid sync spent 1.1 s of its CPU in the collector at 5,000 and
none at 100,000, with the same peak RSS (125 MB). Not switched off: other work in the same
process (``winback serve``) may make cycles while a long sync runs.

History: at 50,000, before the responses' cycle was broken, each page's body lived until a
collection and the peak RSS grew with the store (Ecwid 60k: 159 MB)."""


@contextmanager
def long_lived_objects_frozen() -> Iterator[None]:
    """Leave the objects that exist before a sync out of the garbage collector's full collections
    while it runs (:func:`gc.freeze`), and hand them back when the last running sync ends.

    Why: a sync allocates and frees millions of small objects (records, rows, statements'
    parameters), which triggers full collections, and each of those walks every object of the
    process: modules, pydantic and SQLAlchemy schemas, the application's own. That walk was about
    an eighth of a sync's CPU outside the database. Frozen, those objects are still alive and
    used as before; only garbage cycles made before the sync wait until its end to be collected.

    The young generation's threshold is raised to :data:`SYNC_GC_GEN0_THRESHOLD` meanwhile (and
    restored with the freeze): a page's records and rows live until their batch commits, so a
    young collection every 700 allocations mostly walks objects that are still alive. Garbage
    cycles are still collected, only in somewhat larger steps (see the threshold for how large).
    """
    global _freezes, _thresholds_before
    with _freezes_lock:
        if _freezes == 0:
            gc.freeze()
            _thresholds_before = gc.get_threshold()
            gen0, gen1, gen2 = _thresholds_before
            if gen0:  # 0: the application turned automatic collection off; leave it so
                gc.set_threshold(max(gen0, SYNC_GC_GEN0_THRESHOLD), gen1, gen2)
        _freezes += 1
    try:
        yield
    finally:
        with _freezes_lock:
            _freezes -= 1
            if _freezes == 0:
                if _thresholds_before is not None:
                    gc.set_threshold(*_thresholds_before)
                    _thresholds_before = None
                gc.unfreeze()
