"""HA end to end: the real operator process, the API emulator, agents faked over HTTP.

There is no kubelet: the test plays it (a `PodKeeper` thread creates the pods with
their IPs, finishes deletions and recreates deleted pods, like a StatefulSet would),
and the database is the fake agents' model (fake_agent.py). Timers are small
(pollingInterval 1, unreachableTimeout 4); every wait is a poll against a deadline.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import operator_rbac
import pytest
from fake_agent import FakePair
from integration_polling import eventually

from zenith_operator import naming
from zenith_operator.api import crd
from zenith_operator.controller.reconcile_kube import Kube, KubeError, Ref
from zenith_operator.ha import timing
from zenith_operator.wire import Role
from zenith_sandbox.apiserver import ApiServer

pytestmark = pytest.mark.integration

NS = "ha-test"
NAME = "ha"
GV = f"{naming.GROUP}/{naming.VERSION}"
PODS = [naming.pod_name(NAME, 0), naming.pod_name(NAME, 1)]
TIMEOUT = 4
STARTUP = 30.0
CONVERGE = 40.0
OUTAGE_RENEWALS = 3 * TIMEOUT  # at pollingInterval 1: an outage three times the lease


class PodKeeper:
    """Plays kubelet + StatefulSet for the two pods: IPs, deletions, recreation."""

    def __init__(self, kube: Kube, fakes: FakePair) -> None:
        self.kube = kube
        self.fakes = fakes
        self.stop = threading.Event()
        self.deleted: list[str] = []
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(KubeError):
                self.sync()
            self.stop.wait(0.1)

    def sync(self) -> None:
        for pod in PODS:
            ref = Ref("v1", "Pod", pod, NS)
            obj = self.kube.get(ref)
            if obj is not None and obj["metadata"].get("deletionTimestamp"):
                self.fakes.crash(pod)  # the kubelet kills the containers...
                self.kube.request(
                    "DELETE", f"/api/v1/namespaces/{NS}/pods/{pod}", {"gracePeriodSeconds": 0}
                )
                self.deleted.append(pod)
                continue
            if obj is None:
                self.create(pod)
                self.fakes.revive(pod)  # ...and the new pod starts the agent again

    def create(self, pod: str) -> None:
        labels = {**naming.selector_labels(NAME), naming.CLUSTER_LABEL: NAME}
        self.kube.create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": pod, "namespace": NS, "labels": labels},
                "spec": {"containers": [{"name": naming.CONTAINER_NAME, "image": "fake"}]},
            }
        )
        ip = self.fakes.agents[pod].host
        status = {"status": {"podIP": ip, "phase": "Running"}}
        self.kube.patch(Ref("v1", "Pod", pod, NS), status, subresource="status")


class Env:
    def __init__(self, kube: Kube, fakes: FakePair, kubeconfig: Path, logs: Path) -> None:
        self.kube = kube
        self.fakes = fakes
        self.kubeconfig = kubeconfig
        self.logs = logs
        self.runs = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = logs / "operator-0.log"

    def start_operator(self) -> None:
        self.log = self.logs / f"operator-{self.runs}.log"
        self.runs += 1
        env_vars = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        cmd = [sys.executable, "-m", "zenith_operator", "run", "--namespace", NS,
               "--standalone", "--liveness", "none", "--verbose"]  # fmt: skip
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(cmd, env=env_vars, stdout=out, stderr=subprocess.STDOUT)
        log = self.log
        eventually(
            lambda: "Initial authentication has finished" in log.read_text(),
            STARTUP,
            "the operator to start",
        )

    def kill_operator(self) -> None:
        """SIGKILL: no cleanup, as a crashed or evicted operator pod."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def stop_operator(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def cluster(self) -> dict[str, Any]:
        obj = self.kube.get(Ref(GV, naming.KIND, NAME, NS))
        assert obj is not None
        return obj

    def status(self) -> dict[str, Any]:
        return self.cluster().get("status") or {}

    def state_is(self, state: str, active: str | None = None) -> dict[str, Any] | None:
        s = self.status()
        if s.get("state") == state and (active is None or s.get("activeInstance") == active):
            return s
        return None

    def condition(self, type_: str) -> str | None:
        for c in self.status().get("conditions") or []:
            if c.get("type") == type_:
                return str(c.get("status"))
        return None

    def event_reasons(self) -> list[str]:
        items = self.kube.request("GET", f"/api/v1/namespaces/{NS}/events").get("items") or []
        return [
            e.get("reason", "")
            for e in items
            if (e.get("involvedObject") or {}).get("kind") == naming.KIND
        ]

    def assert_loop_healthy(self) -> None:
        text = self.log.read_text()
        for bad in ("ha cycle failed", "command crashed", "status not written"):
            assert bad not in text, f"operator log has {bad!r}"

    def pod_role(self, pod: str) -> str | None:
        obj = self.kube.get(Ref("v1", "Pod", pod, NS)) or {}
        return ((obj.get("metadata") or {}).get("labels") or {}).get(naming.ROLE_LABEL)


@pytest.fixture
def env(kubeconfig: Path, tmp_path: Path) -> Iterator[Env]:
    kube = Kube.from_kubeconfig(kubeconfig)
    kube.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                 "metadata": {"name": NS}})  # fmt: skip
    kube.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd.crd())
    eventually(
        lambda: kube.request("GET", f"/apis/{GV}/namespaces/{NS}/zenithclusters"),
        STARTUP,
        "the ZenithCluster CRD to be served",
    )
    operator_rbac.install(kube)  # the operator runs as its ServiceAccount (deploy/rbac)
    as_operator = operator_rbac.operator_kubeconfig(kube, kubeconfig, tmp_path / "operator.kc")
    fakes = FakePair(PODS).start()
    keeper = PodKeeper(kube, fakes)
    env = Env(kube, fakes, as_operator, tmp_path)
    try:
        env.start_operator()
        kube.create(
            {
                "apiVersion": GV,
                "kind": naming.KIND,
                "metadata": {"name": NAME, "namespace": NS},
                "spec": {
                    "zenithSpec": {
                        "replicas": 2,
                        "pollingInterval": 1,
                        "unreachableTimeout": TIMEOUT,
                        "ports": {"agent": fakes.port},
                    }
                },
            }
        )
        keeper.thread.start()
        yield env
    finally:
        keeper.stop.set()
        env.stop_operator()
        fakes.stop()
        if keeper.thread.is_alive():
            keeper.thread.join(5)


def _normal(env: Env, active: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        env.fakes.write()
        s = env.state_is("Normal", active)
        return s if s and env.condition("Ready") == "True" else None

    return eventually(check, CONVERGE, f"Normal with {active} active")


def test_pair_initialises_then_fails_over_and_rebuilds(env: Env) -> None:
    a0, a1 = (env.fakes.agents[p] for p in PODS)
    s = _normal(env, PODS[0])
    assert s["standbyInstance"] == PODS[1]
    assert s["replicationMode"] == "sync" and s["replicationDegraded"] is False
    assert a0.role == Role.ACTIVE and a1.role == Role.STANDBY and a1.upstream == PODS[0]
    assert a0.sync_standby == PODS[1]
    token = env.kube.get(Ref("v1", "Secret", naming.agent_secret_name(NAME), NS))
    assert token is not None and a0.tokens and a1.tokens
    eventually(lambda: env.pod_role(PODS[0]) == "active", 10, "role label active")
    assert env.pod_role(PODS[1]) == "standby"

    # Steady state: leases renewed, nothing written to the API.
    rv = env.cluster()["metadata"]["resourceVersion"]
    leases = a0.count("lease")
    eventually(lambda: a0.count("lease") >= leases + 4, 15, "four lease renewals")
    assert env.cluster()["metadata"]["resourceVersion"] == rv, "status written at steady state"

    # The active is cut off from the operator; its database keeps running.
    env.fakes.write()
    acked = a0.position
    last_lease = a0.lease_until
    env.fakes.partition(PODS[0])
    # counted down and failed over in one cycle: the lease is shorter than the timeout
    eventually(lambda: "FailoverStarted" in env.event_reasons(), CONVERGE, "FailoverStarted")
    eventually(lambda: env.fakes.agents[PODS[1]].role == Role.ACTIVE, CONVERGE, "promotion")
    a1.command_delay = 0.0
    promoted_at = a1.first("promote")
    assert promoted_at is not None and last_lease is not None
    assert a0.fenced, "the old active fenced itself before the promotion"
    assert promoted_at >= last_lease, "promoted before the old active's lease ran out"
    assert a1.position >= acked, "the promoted standby misses acknowledged writes"
    assert a1.timeline == 2
    eventually(lambda: "FailoverCompleted" in env.event_reasons(), 10, "FailoverCompleted")
    assert "FailoverStarted" in env.event_reasons()

    # The old active comes back: rebuilt as the standby of the new active, then sync.
    env.fakes.heal(PODS[0])
    s = _normal(env, PODS[1])
    old = env.fakes.agents[PODS[0]]
    assert old.count("rebuild") >= 1 and old.role == Role.STANDBY and old.upstream == PODS[1]
    assert s["standbyInstance"] == PODS[0] and s["replicationMode"] == "sync"
    assert a1.sync_standby == PODS[0]
    assert env.pod_role(PODS[1]) == "active"
    eventually(lambda: env.pod_role(PODS[0]) == "standby", 10, "old active labelled standby")
    assert timing.promotion_not_before(0, TIMEOUT) == TIMEOUT + timing.LEASE_MARGIN_SECONDS
    env.assert_loop_healthy()


def test_standby_loss_goes_async_and_back_to_sync(env: Env) -> None:
    a0, a1 = (env.fakes.agents[p] for p in PODS)
    _normal(env, PODS[0])
    env.fakes.crash(PODS[1])

    def degraded() -> dict[str, Any] | None:
        s = env.status()
        return s if s.get("replicationDegraded") and a0.mode == "async" else None

    s = eventually(degraded, CONVERGE, "the active switched to async")
    assert s["state"] in ("StandbyPartiallyDown", "StandbyDown")
    standby = next(i for i in s["instances"] if i["name"] == PODS[1])
    assert standby["inSync"] is False
    assert env.condition("Ready") == "False" and env.condition("Available") == "True"
    assert env.condition("ReplicationHealthy") == "False"
    before = a0.position
    env.fakes.write()
    assert a0.position > before, "the active keeps serving without its standby"

    env.fakes.revive(PODS[1])
    s = _normal(env, PODS[0])
    assert s["replicationDegraded"] is False and a0.mode == "sync"
    assert a1.position == a0.position
    reasons = env.event_reasons()
    assert "ReplicationDegraded" in reasons and "ReplicationRestored" in reasons
    env.assert_loop_healthy()


def test_operator_killed_during_failover_resumes_from_status(env: Env) -> None:
    a0, a1 = (env.fakes.agents[p] for p in PODS)
    _normal(env, PODS[0])
    env.fakes.write()
    acked = a0.position
    last_lease = a0.lease_until
    a1.command_delay = 3.0  # a slow promote: the operator is killed while it runs
    env.fakes.partition(PODS[0])
    eventually(lambda: env.state_is("Failover"), CONVERGE, "the failover intent in the status")
    pending = env.status()["pendingAction"]
    assert pending["kind"] == "Failover" and pending["target"] == PODS[1]
    env.kill_operator()
    env.start_operator()
    eventually(lambda: env.fakes.agents[PODS[1]].role == Role.ACTIVE, CONVERGE, "promotion")
    promoted_at = a1.first("promote")
    assert promoted_at is not None and last_lease is not None
    # the restarted operator read lastLeaseRenewal from the Failover status (a state
    # that grants no lease) and waited for that lease, not for one granted at its start
    assert promoted_at >= last_lease, "promoted before the old active's lease ran out"
    assert a0.fenced, "the old active fenced itself before the promotion"
    env.fakes.heal(PODS[0])
    assert a1.position >= acked
    s = _normal(env, PODS[1])
    assert s["standbyInstance"] == PODS[0] and a0.upstream == PODS[1]
    env.assert_loop_healthy()


def test_api_outage_keeps_renewing_the_active_and_changes_nothing(
    env: Env, apiserver: ApiServer
) -> None:
    """The API away for longer than the lease: the active keeps its lease, nothing moves."""
    a0, a1 = (env.fakes.agents[p] for p in PODS)
    _normal(env, PODS[0])
    rv = env.cluster()["metadata"]["resourceVersion"]
    leases = a0.count("lease")
    lost_writability: list[float] = []

    def renewed_through_the_outage() -> bool:
        env.fakes.write()
        if not a0.writable:
            lost_writability.append(time.monotonic())
        return a0.count("lease") >= leases + OUTAGE_RENEWALS

    apiserver.pause()
    try:
        eventually(renewed_through_the_outage, 3 * OUTAGE_RENEWALS, "renewals without the API")
    finally:
        apiserver.resume()
    assert not lost_writability and not a0.fenced, "the active lost its lease during the outage"
    assert a1.count("promote") == 0 and a1.role == Role.STANDBY
    _normal(env, PODS[0])
    assert env.cluster()["metadata"]["resourceVersion"] == rv, "status written for nothing"
    env.assert_loop_healthy()


def test_a_spec_change_wakes_the_loop_at_once(env: Env) -> None:
    """pollingInterval 300 (the maximum) set by mistake, then corrected: polls resume
    within seconds."""
    a0 = env.fakes.agents[PODS[0]]
    _normal(env, PODS[0])
    ref = Ref(GV, naming.KIND, NAME, NS)
    slow = {"spec": {"zenithSpec": {"pollingInterval": 300, "unreachableTimeout": 600}}}
    env.kube.patch(ref, slow)
    leases = a0.count("lease")
    eventually(lambda: a0.count("lease") > leases, 10, "a cycle with the new settings")
    fast = {"spec": {"zenithSpec": {"pollingInterval": 1, "unreachableTimeout": TIMEOUT}}}
    leases = a0.count("lease")
    env.kube.patch(ref, fast)
    eventually(lambda: a0.count("lease") >= leases + 3, 10, "polls every second again")
    env.assert_loop_healthy()
