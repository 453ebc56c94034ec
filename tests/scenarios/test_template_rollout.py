"""Issue 12: any pod template change rolled out on a live pair, standby first, under a
writer and a writability checker (real PostgreSQL); scaling 2 -> 1 and 1 -> 2.

Each asserts: the standby's pod is replaced before the active's, a switchover to it, 0
acknowledged writes lost, 0 samples with two writable instances, Normal in sync with
every pod on the StatefulSet's updateRevision; each prints its longest write gap.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from kubernetes import client

from zenith_operator import naming
from zenith_operator.ha import SWITCHOVER_ANNOTATION
from zenith_sandbox.polling import wait_for
from zenith_sandbox.scenario import Cluster
from zenith_sandbox.workload import WritabilityChecker, Writer, missing_acknowledged

pytestmark = pytest.mark.integration

GAP_BOUND = 10.0  # seconds: loose for a loaded machine; the goal is one switchover gap


@dataclass
class Rollout:
    what: str
    before: dict[str, tuple[str, str]] = field(default_factory=dict)  # pod -> (uid, revision)
    replaced_at: dict[str, float] = field(default_factory=dict)
    states: list[str] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)
    revision: str | None = None
    max_gap: float = 0.0
    acked: int = 0
    samples: int = 0
    double_writable: int = 0
    lost: set[int] = field(default_factory=set)


def _pods(cluster: Cluster) -> dict[str, tuple[str, str]]:
    """Live pods: name -> (uid, controller-revision-hash)."""
    pods = cluster.core.list_namespaced_pod(
        cluster.namespace, label_selector=f"{naming.CLUSTER_LABEL}={cluster.name}"
    )
    out: dict[str, tuple[str, str]] = {}
    for p in pods.items:
        meta = p.metadata
        if meta is None or meta.name is None or meta.deletion_timestamp is not None:
            continue
        out[meta.name] = (str(meta.uid), (meta.labels or {}).get(naming.REVISION_LABEL, ""))
    return out


def _update_revision(cluster: Cluster) -> str | None:
    sts = client.AppsV1Api(cluster.core.api_client).read_namespaced_stateful_set(
        naming.statefulset_name(cluster.name), cluster.namespace
    )
    status, meta = sts.status, sts.metadata
    if status is None or meta is None or status.observed_generation != meta.generation:
        return None
    return status.update_revision


def _patch(cluster: Cluster, spec: dict[str, Any]) -> None:
    cluster.custom.patch_namespaced_custom_object(
        naming.GROUP, naming.VERSION, cluster.namespace, naming.PLURAL, cluster.name, {"spec": spec}
    )


def _event_reasons(cluster: Cluster) -> list[str]:
    events = cluster.core.list_namespaced_event(cluster.namespace)
    return [
        e.reason or ""
        for e in events.items
        if e.involved_object is not None and e.involved_object.name == cluster.name
    ]


def run_rollout(
    cluster: Cluster,
    edit: Callable[[], None],
    what: str,
    replicas: int,
    new_revision: bool = True,
    timeout: float = 240,
) -> Rollout:
    """Apply `edit` under a writer and a checker; wait until `replicas` pods all run the
    StatefulSet's updateRevision (a new one if `new_revision`) in Normal (in sync for a
    pair), no rollout pending."""
    cluster.wait_normal(timeout=180)
    run = Rollout(what, before=_pods(cluster))
    old_revision = _update_revision(cluster)
    creds = cluster.credentials()
    writer = Writer(cluster.active_lookup(), creds)
    checker = WritabilityChecker(lambda: list(cluster.pod_ips().values()), creds)
    writer.start()
    checker.start()
    try:
        wait_for("the writer's first writes", lambda: len(writer.acks) >= 20, 30)
        t0 = time.monotonic()
        edit()

        def rolled_out() -> bool:
            st = cluster.status()
            state = str(st.get("state"))
            if not run.states or run.states[-1] != state:
                run.states.append(state)
            pods = _pods(cluster)
            for name, (uid, _rev) in pods.items():
                old = run.before.get(name)
                if name not in run.replaced_at and (old is None or old[0] != uid):
                    run.replaced_at[name] = time.monotonic() - t0
            revision = _update_revision(cluster)
            synced = replicas == 1 or (
                st.get("replicationMode") == "sync"
                and any(i.get("inSync") for i in st.get("instances", []))
            )
            done = (
                revision is not None
                and (revision != old_revision or not new_revision)
                and len(pods) == replicas
                and all(rev == revision for _uid, rev in pods.values())
                and state == "Normal"
                and st.get("rollout") is None
                and synced
            )
            if done:
                run.revision, run.final = revision, st
            return done

        wait_for(f"{what} rolled out", rolled_out, timeout, 0.1)
        count = len(writer.acks)
        wait_for("writes after the rollout", lambda: len(writer.acks) >= count + 5, 30)
        run.max_gap = writer.longest_gap(t0)
    finally:
        writer.stop()
        checker.stop()
    run.acked = len(writer.acks)
    run.samples = checker.samples
    run.double_writable = len(checker.violations)
    active = run.final["activeInstance"]
    run.lost = missing_acknowledged(cluster.pod_ips()[active], creds, writer.acked_ids)
    print(
        f"\n{what}: revision {old_revision} -> {run.revision}, pods replaced at "
        f"{ {k: round(v, 1) for k, v in run.replaced_at.items()} }, states {run.states}, "
        f"acked {run.acked}, lost {len(run.lost)}, two-writable samples "
        f"{run.double_writable}/{run.samples}, longest write gap {run.max_gap:.2f}s"
    )
    assert run.double_writable == 0, "two instances were writable at once"
    assert not run.lost, f"acknowledged writes lost: {sorted(run.lost)[:20]}"
    assert run.max_gap < GAP_BOUND, run.max_gap
    return run


def _check_standby_first(cluster: Cluster, run: Rollout, old: dict[str, Any]) -> None:
    old_active, old_standby = old["activeInstance"], old["standbyInstance"]
    assert run.replaced_at[old_standby] < run.replaced_at[old_active], run.replaced_at
    assert run.final["activeInstance"] == old_standby, "no switchover to the updated standby"
    assert "Switchover" in run.states, run.states
    assert run.revision not in {rev for _uid, rev in run.before.values()}
    reasons = _event_reasons(cluster)
    for reason in (
        "RolloutStarted",
        "RolloutRestartStandby",
        "RolloutSwitchover",
        "RolloutRestartFormerActive",
        "RolloutCompleted",
    ):
        assert reason in reasons, (reason, reasons)


def _container(**fields: Any) -> dict[str, Any]:
    return {"template": {"spec": {"containers": [{"name": naming.CONTAINER_NAME, **fields}]}}}


EDITS: dict[str, Callable[[Cluster], dict[str, Any]]] = {
    "image change": lambda c: {"zenithSpec": {"image": "zenith-operator:0.1.1"}},
    "resources change": lambda c: _container(
        resources={"requests": {"cpu": "150m", "memory": "200Mi"}}
    ),
    "template env change": lambda c: _container(env=[{"name": "ZENITH_ROLLOUT", "value": "2"}]),
    "timer change": lambda c: {"zenithSpec": {"unreachableTimeout": 6}},
}


@pytest.mark.parametrize("what", list(EDITS))
def test_template_change_rolls_out_standby_first(
    make_cluster: Callable[..., Cluster], what: str
) -> None:
    cluster = make_cluster("pair")
    old = cluster.wait_normal(timeout=180)
    run = run_rollout(cluster, lambda: _patch(cluster, EDITS[what](cluster)), what, replicas=2)
    _check_standby_first(cluster, run, old)


def test_scale_down_with_pod1_active_switches_over_then_removes_pod1(
    make_cluster: Callable[..., Cluster],
) -> None:
    cluster = make_cluster("pair")
    cluster.wait_normal(timeout=180)
    pod0, pod1 = f"{cluster.name}-0", f"{cluster.name}-1"
    cluster.annotate(SWITCHOVER_ANNOTATION, pod1)
    wait_for(f"{pod1} active", lambda: cluster.status().get("activeInstance") == pod1, 90)
    cluster.annotate(SWITCHOVER_ANNOTATION, None)
    cluster.wait_normal(timeout=90)
    run = run_rollout(
        cluster,
        lambda: cluster.patch_spec({"replicas": 1}),
        "scale 2 -> 1",
        replicas=1,
        new_revision=False,
    )
    assert run.final["activeInstance"] == pod0 and run.final.get("standbyInstance") is None
    assert "Switchover" in run.states, run.states
    claims = cluster.core.list_namespaced_persistent_volume_claim(cluster.namespace).items
    names = {c.metadata.name for c in claims if c.metadata is not None}
    assert any(n.endswith(pod1) for n in names), "pod-1's PVC is kept (retention Retain)"


def test_scale_up_clones_the_new_standby(make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster("single")
    cluster.wait_normal(timeout=180)
    active = cluster.status()["activeInstance"]
    run = run_rollout(
        cluster,
        lambda: cluster.patch_spec({"replicas": 2}),
        "scale 1 -> 2",
        replicas=2,
        new_revision=False,
    )
    assert run.final["activeInstance"] == active, "scaling up moves no active"
    assert run.final["standbyInstance"] == f"{cluster.name}-1"
    assert active not in run.replaced_at, "the active keeps running"
