"""The one waiting primitive (zenith_sandbox.polling.wait_for) under every test helper."""

from __future__ import annotations

import itertools

import pytest

from zenith_sandbox.polling import WaitTimeout, wait_for


def test_returns_the_first_truthy_answer() -> None:
    answers = iter([None, 0, "", "ready"])
    assert wait_for("ready", lambda: next(answers), timeout=5, every=0) == "ready"


def test_ignored_exceptions_mean_not_yet_and_end_up_in_the_message() -> None:
    calls = itertools.count()

    def check() -> bool:
        if next(calls) < 2:
            raise KeyError("not there yet")
        return True

    assert wait_for("the key", check, timeout=5, every=0, ignore=(KeyError,)) is True
    with pytest.raises(WaitTimeout, match=r"waiting for the key \(last: KeyError") as exc:
        wait_for("the key", lambda: {}["k"], timeout=0, ignore=(KeyError,))
    assert isinstance(exc.value, TimeoutError) and isinstance(exc.value, AssertionError)


def test_other_exceptions_propagate_at_once() -> None:
    with pytest.raises(ZeroDivisionError):
        wait_for("a number", lambda: 1 // 0, timeout=5, ignore=(KeyError,))


def test_checks_once_even_with_no_time_left() -> None:
    assert wait_for("now", lambda: 42, timeout=0) == 42


def test_abort_ends_the_wait_with_its_reason() -> None:
    with pytest.raises(RuntimeError, match="the API died while waiting for pods"):
        wait_for("pods", lambda: None, timeout=5, abort=lambda: "the API died")
