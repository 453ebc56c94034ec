"""Poll a condition with a deadline: the one way the sandbox and the tests wait (never a
fixed sleep). The tests' helpers (`eventually`, `poll`, e2e `wait_for`...) are thin
wrappers that choose which exceptions mean "not yet"."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(TimeoutError, AssertionError):
    """A wait ran out: a TimeoutError to the harness, a failed assertion to pytest."""


def wait_for(
    what: str,
    check: Callable[[], T | None],
    timeout: float,
    every: float = 0.1,
    abort: Callable[[], str | None] | None = None,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Call `check` every `every` s until it returns something truthy and return that.

    An exception of a type in `ignore` counts as "not yet". WaitTimeout names `what` and
    the last answer (or exception); `abort`, when it returns a reason, ends the wait early
    with a RuntimeError carrying that reason.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = check()
        except ignore as exc:
            last = exc
        else:
            if value:
                return value
            last = value
        if abort is not None and (reason := abort()):
            raise RuntimeError(f"{reason} while waiting for {what}")
        left = deadline - time.monotonic()
        if left <= 0:
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")
        time.sleep(min(every, left))
