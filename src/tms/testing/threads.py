"""Real threads for concurrency tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection

TIMEOUT = 60


def run_in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run work(i) in ``count`` threads; return their results or exceptions, in order.
    Each thread closes its own database connection when done."""
    results: list[Any] = [None] * count

    def target(index: int) -> None:
        try:
            results[index] = work(index)
        except BaseException as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return results
