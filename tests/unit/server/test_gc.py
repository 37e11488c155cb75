"""tune_collector: what the server does to the garbage collector before forking."""

from __future__ import annotations

import gc

from stack_runtime.server.gc import YOUNG_THRESHOLD, tune_collector


def test_freezes_what_is_loaded_and_raises_the_young_threshold() -> None:
    before = gc.get_threshold()
    try:
        tune_collector()
        assert gc.get_threshold() == (YOUNG_THRESHOLD, before[1], before[2])
        assert gc.get_freeze_count() > 1000
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1  # cyclic garbage is still collected
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
