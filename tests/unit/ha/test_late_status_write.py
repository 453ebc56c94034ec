"""A status write that lands after its budget (a busy API server, issue 13).

The cycle that made it sent no command. Once it lands the API holds it: the next
decision starts from it, the attempts it recorded are marked unsent and due again after
a back-off, and many clusters polling fast share a bounded cadence.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from typing import Any

from ha_factories import T0, A, agent, inst, observe, pending, standby_report, status

from zenith_operator.api.spec import parse_spec
from zenith_operator.api.status import RolloutStatus, ZenithClusterStatus
from zenith_operator.controller.executor import Executor, late_retry_delay
from zenith_operator.controller.fast_steps import FastSteps
from zenith_operator.controller.ha_loop import STEP_POLL, next_interval
from zenith_operator.controller.observe import ClusterView, Memory, PodInfo
from zenith_operator.ha import rollout
from zenith_operator.ha.decide import decide
from zenith_operator.ha.model import Decision, Promote
from zenith_operator.ha.plan import Plan
from zenith_operator.ha.states import State
from zenith_operator.ha.times import fmt
from zenith_operator.wire import Role

# --- pure: an unsent attempt is due again and not counted ---------------------------


def _initializing(last: float) -> tuple[ZenithClusterStatus, Any]:
    old = status(
        State.INITIALIZING, A, pending=pending("Initialize", A, attempts=1, last=last), pair=False
    )
    obs = observe(inst(A, agent(A, Role.STANDBY)))
    return old, obs


def test_an_unsent_attempt_is_due_again_at_once_and_not_counted() -> None:
    old, obs = _initializing(T0 - 1)
    assert not any(isinstance(a, Promote) for a in decide(old, obs, T0).actions)
    stamp = old.pending_action.last_attempt  # type: ignore[union-attr]
    d = decide(old, replace(obs, unsent=frozenset({stamp})), T0)  # type: ignore[arg-type]
    assert any(isinstance(a, Promote) for a in d.actions)
    p = d.status.pending_action
    assert p is not None and p.attempts == 1 and p.last_attempt == fmt(T0)


def test_a_rollout_delete_never_sent_is_sent_again_without_counting() -> None:
    old = status(State.NORMAL)
    old.rollout = RolloutStatus(
        to_revision="r2",
        step=rollout.RolloutStep.RESTART_STANDBY,
        instance="c-1",
        deleted_uid="uid-c-1",
        last_attempt=fmt(T0 - 1),
        restarts=1,
    )
    obs = replace(observe(inst(A), inst("c-1", standby_report())), update_revision="r2")
    plan = Plan(old, obs, T0)
    rollout.restart(plan, "c-1", rollout.RolloutStep.RESTART_STANDBY)
    assert not plan.actions  # deleted a second ago: waiting for the pod to go
    unsent = frozenset({fmt(T0 - 1)})
    plan = Plan(old, replace(obs, unsent=unsent), T0)
    rollout.restart(plan, "c-1", rollout.RolloutStep.RESTART_STANDBY)
    assert [type(a).__name__ for a in plan.actions] == ["DeletePod", "Event"]
    assert plan.st.rollout is not None and plan.st.rollout.restarts == 1


def test_the_back_off_doubles_up_to_its_bound() -> None:
    assert late_retry_delay(1, 2.0, 1.0) == 2.0
    assert late_retry_delay(2, 2.0, 0.5) == 2.0
    assert late_retry_delay(3, 2.0, 1.0) == 8.0
    assert late_retry_delay(9, 2.0, 1.0) == 10.0


def test_many_clusters_polling_fast_share_a_bounded_cadence() -> None:
    old, obs = _initializing(T0 - 1)
    d = decide(old, obs, T0)
    assert next_interval(5.0, d, obs) == STEP_POLL  # alone: every step at once
    steps = FastSteps(rate=200.0)
    for key in range(500):
        steps.mark(key, True)
    assert next_interval(5.0, d, obs, floor=steps.floor()) == 2.5
    assert next_interval(1.0, d, obs, floor=steps.floor()) == 1.0  # never past the interval
    for key in range(500):
        steps.mark(key, False)
    assert steps.floor() == 0.0


# --- the executor ---------------------------------------------------------------------


class SlowKube:
    """Status writes that block until released (a queue at the API server)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.writes = 0

    def patch(self, ref: Any, patch: Any, content_type: str = "", subresource: str = "") -> Any:
        self.writes += 1
        self.release.wait(10)
        return {"metadata": {"resourceVersion": str(100 + self.writes)}, "status": {}}


class Api:
    away = False

    def ok(self) -> None: ...

    def failed(self, exc: BaseException) -> None:
        raise AssertionError(f"unexpected failure: {exc}")


class Log:
    def info(self, *a: Any, **k: Any) -> None: ...

    warning = error = info


def test_a_late_write_is_adopted_and_its_attempt_retried_after_a_back_off() -> None:
    async def run() -> None:
        kube = SlowKube()
        memory = Memory()
        memory.status = status(State.INITIALIZING, A, pair=False)
        memory.written = memory.status.model_copy(deep=True)
        ex = Executor(kube, None, memory, Log(), Api(), clock=lambda: T0)  # type: ignore[arg-type]
        ex.write_budget = 0.05
        woken = asyncio.Event()
        ex.on_done = woken.set
        new = memory.status.model_copy(deep=True)
        new.pending_action = pending("Initialize", A, attempts=1, last=T0)
        spec = parse_spec({"zenithSpec": {"replicas": 1}})
        body = {"apiVersion": "x/v1", "metadata": {"name": "c", "namespace": "n"}}
        pod = PodInfo(A, "uid", "127.0.0.2", "Running", True, False, None)
        view = ClusterView(body, spec, observe().settings, {A: pod})
        decision = Decision(State.INITIALIZING, (Promote(A, 10.0),), new, "init")
        assert not await ex.apply(view, decision)  # no command: the write is still going
        assert ex.memory.inflight == {}
        assert not await ex.apply(view, decision)  # one write at a time
        kube.release.set()
        await asyncio.wait_for(woken.wait(), 5)  # woken after the back-off
        assert kube.writes == 1
        assert memory.status == new and memory.written == new
        assert memory.unsent == {fmt(T0)} and memory.late_writes == 1
        assert T0 + 0.025 <= memory.unsent_after <= T0 + 0.05
        await ex.close()

    asyncio.run(run())


def test_an_unsent_attempt_counts_toward_no_limit() -> None:
    """A follow written late and never sent does not make the standby a rebuild case."""
    intent = pending("Follow", "c-1", A, attempts=3, last=T0 - 1)
    old, obs = status(State.NORMAL, pending=intent), observe(inst(A), inst("c-1"))
    plan = Plan(old, obs, T0)
    assert plan.sent_attempts(intent) == 3
    plan = Plan(old, replace(obs, unsent=frozenset({fmt(T0 - 1)})), T0)
    assert plan.sent_attempts(intent) == 2
