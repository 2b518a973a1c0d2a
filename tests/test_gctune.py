"""The collector settings for backlog work: start-up objects frozen, young passes less often."""

from __future__ import annotations

import gc

from inbox_bot import gctune


def test_settle_after_start_freezes_what_is_loaded_and_raises_the_young_threshold():
    before = gc.get_threshold()
    try:
        kept = [[i] for i in range(1000)]  # long-lived containers, as a loaded model has
        gctune.settle_after_start()
        # Without the freeze every full pass would walk these again.
        assert gc.get_freeze_count() >= len(kept)
        assert gc.get_threshold()[0] == gctune.YOUNG_THRESHOLD
        assert gc.get_threshold()[1:] == before[1:]
        # Cyclic garbage made afterwards is still collected.
        cycle = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
