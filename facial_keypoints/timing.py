"""Timing the stages of the video loop, for benchmarks and the on-screen FPS.

:func:`timed` adds the seconds a ``with`` block takes to one entry of a dict; code that accepts a
``timings`` dict uses it so that callers can see where the time goes without wrapping anything.
"""

import contextlib
import time


@contextlib.contextmanager
def timed(timings, stage):
    """Add the seconds the ``with`` block takes to ``timings[stage]`` (created at 0). With
    ``timings=None`` nothing is measured."""
    if timings is None:
        yield
        return
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start
