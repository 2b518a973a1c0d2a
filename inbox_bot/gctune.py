"""Garbage-collector settings for the processes that work through a backlog.

CPython's cyclic collector makes a young pass every 700 container objects allocated and not yet
freed, and a full pass every 100 young ones. Applying a message creates thousands of
short-lived objects (ORM states, template contexts, parsed mail) that reference counting frees
by itself, yet they keep triggering young passes; and every full pass walked the ~170,000
long-lived objects of the loaded classifier and libraries, 50-80 ms each. Measured over 2,000
generated messages processed with the worker process (messages a second, two runs each):
default 742 and 752; young pass every 10,000: 838 and 805; every 50,000: 854.

So, once a process has loaded what it keeps for its lifetime (the model, the language
detectors): `gc.freeze()` moves all of it to a generation the collector never scans, and the
young pass waits for 20,000 objects. Cyclic garbage still gets collected, only in fewer and
larger passes: at most a few MB more between them.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000


def settle_after_start() -> None:
    """Call once the long-lived objects are loaded; harmless to call again."""
    gc.collect()  # what start-up left as garbage is freed now, not frozen with the rest
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
