"""Running workers together in real threads against PostgreSQL, for the concurrency tests.

Each worker waits at a barrier so that they all start together and closes its database
connection at the end. At most ``at_once`` workers hold a connection at the same moment (the
server allows 100 connections and other test runs share it); with more workers than that, the
rest queue at the gate and race the ones that finish. ``jitter`` spreads the starts over up to
that many seconds.
"""

from __future__ import annotations

import random
import threading

from django.db import connection

AT_ONCE = 20


def run_together(workers, *, at_once: int = AT_ONCE, jitter: float = 0.0) -> list[tuple[str, object]]:
    """Run every worker in its own thread, started together; returns ("ok", value) or ("error", exc)."""
    start = threading.Barrier(len(workers))
    gate = threading.BoundedSemaphore(at_once)
    results: list[tuple[str, object] | None] = [None] * len(workers)

    def wrap(index, work):
        try:
            start.wait(timeout=30)
            if jitter:
                threading.Event().wait(random.random() * jitter)
            with gate:
                try:
                    results[index] = ("ok", work())
                finally:
                    connection.close()
        except Exception as exc:  # reported by the main thread
            results[index] = ("error", exc)

    threads = [threading.Thread(target=wrap, args=(i, work)) for i, work in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert None not in results
    return results
