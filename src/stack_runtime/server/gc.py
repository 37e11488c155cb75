"""Garbage-collector settings for a serving process.

Every page integrator.io sends becomes thousands of fresh dicts and lists, and
CPython's collector, with its default thresholds, scans such young containers
again and again while a request is still using them (and scans every module
imported at start-up on each full collection). A server stack host does two
things before its workers fork:

- :func:`gc.freeze` moves everything loaded so far (the host, its libraries and
  the extensions) out of the collector's sight: full collections stop scanning
  it, and forked workers stop touching (and so copying) those memory pages;
- the first generation's threshold goes from 700 to :data:`YOUNG_THRESHOLD`
  allocations, so a page is mostly freed by reference counting before the
  collector ever looks at it. Cyclic garbage is still collected, a little later.
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "tune_collector"]

#: Container allocations (minus deallocations) between young-generation collections.
YOUNG_THRESHOLD = 10_000


def tune_collector() -> None:
    """Freeze what is loaded now and raise the young-generation threshold."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
