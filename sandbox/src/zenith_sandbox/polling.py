"""Poll a condition with a deadline: the sandbox's one way to wait (never a fixed sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(
    what: str,
    check: Callable[[], Any],
    timeout: float,
    every: float = 0.1,
    abort: Callable[[], str | None] | None = None,
) -> Any:
    """Poll `check` until it returns something truthy and return that.

    TimeoutError names `what` and the last answer; `abort`, when it returns a reason,
    ends the wait early with a RuntimeError carrying that reason.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        if abort is not None and (reason := abort()):
            raise RuntimeError(f"{reason} while waiting for {what}")
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")
