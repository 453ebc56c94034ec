"""A ConfigMap edit rolled out on a live pair: standby first, a switchover, then the
former active; under a writer and a writability checker (real PostgreSQL).

Asserts: the standby's pod is recreated before the former active's, a switchover
happened, both instances report the new value with SQL `SHOW`, zero acknowledged writes
lost, never two writable instances, back to Normal in sync, the rollout's Events.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from kubernetes import client

from zenith_operator import naming
from zenith_sandbox.scenario import (
    Cluster,
    example_documents,
    load_example,
    wait_for,
)
from zenith_sandbox.stack import Sandbox
from zenith_sandbox.workload import (
    DbCredentials,
    WritabilityChecker,
    Writer,
    missing_acknowledged,
)

pytestmark = pytest.mark.integration

FAST = {"pollingInterval": 1, "unreachableTimeout": 5}
_names = itertools.count()  # a fresh name per cluster: the example retains its PVCs


def _show(host: str, creds: DbCredentials, setting: str) -> str | None:
    try:
        with psycopg.connect(creds.conninfo(host, timeout=3), autocommit=True) as conn:
            row = conn.execute(f"SHOW {setting}").fetchone()
            return str(row[0]) if row else None
    except psycopg.Error:
        return None


@pytest.fixture
def configured(sandbox: Sandbox) -> Iterator[tuple[Cluster, list[dict[str, Any]]]]:
    """examples/pair-with-config.yaml with its ConfigMaps/Secret renamed for this test."""
    docs = copy.deepcopy(example_documents("pair-with-config"))
    n = next(_names)
    renames = {d["metadata"]["name"]: f"{d['metadata']['name']}-rollout-{n}" for d in docs}
    for d in docs:
        d["metadata"]["name"] = renames[d["metadata"]["name"]]
    body = load_example("pair-with-config", **FAST)
    z = body["spec"]["zenithSpec"]
    for key in ("dbConfigMap", "instanceConfigMap", "dbSecrets"):
        z[key] = [renames[n] for n in z.get(key) or []]
    agent = body["spec"].get("agentSpec") or {}
    if agent.get("agentConfig"):
        agent["agentConfig"] = [renames[n] for n in agent["agentConfig"]]
    cluster = Cluster(sandbox.api, sandbox.namespace, f"rollout-{n}")
    cluster.create(body, docs)
    try:
        yield cluster, docs
    finally:
        if cluster.get() is not None:
            cluster.delete()
        wait_for(f"{cluster.name} gone", lambda: not cluster.pod_ips(), 60)
        for d in docs:
            try:
                if d["kind"] == "ConfigMap":
                    cluster.core.delete_namespaced_config_map(
                        d["metadata"]["name"], cluster.namespace
                    )
                else:
                    cluster.core.delete_namespaced_secret(d["metadata"]["name"], cluster.namespace)
            except client.ApiException:
                pass


def _pods(cluster: Cluster) -> dict[str, dict[str, Any]]:
    pods = cluster.core.list_namespaced_pod(
        cluster.namespace, label_selector=f"{naming.CLUSTER_LABEL}={cluster.name}"
    )
    out: dict[str, dict[str, Any]] = {}
    for p in pods.items:
        meta = p.metadata
        if meta is None or meta.name is None:
            continue
        out[meta.name] = {
            "uid": meta.uid,
            "created": meta.creation_timestamp,
            "hash": (meta.annotations or {}).get(naming.CONFIG_HASH_ANNOTATION),
            "deleting": meta.deletion_timestamp is not None,
        }
    return out


def _event_reasons(cluster: Cluster) -> list[str]:
    events = cluster.core.list_namespaced_event(cluster.namespace)
    return [
        e.reason or ""
        for e in events.items
        if e.involved_object is not None and e.involved_object.name == cluster.name
    ]


@pytest.mark.parametrize(
    ("setting", "line", "before_value", "after_value"),
    [
        ("work_mem", "work_mem = '16MB'", "4MB", "16MB"),
        # a hot standby needs max_connections >= the primary's: raising it standby first
        # works; the former active is restarted right after the switchover
        ("max_connections", "max_connections = 250", "200", "250"),
        # lowering it: the restarted standby runs with the primary's 200 until it is
        # promoted (else PostgreSQL aborts its recovery); the former active restarts
        # into 150 once it has replayed the new primary's lower value (issue 12 item 4)
        ("max_connections", "max_connections = 150", "200", "150"),
    ],
)
def test_config_change_rolls_out_standby_first_then_switchover(
    configured: tuple[Cluster, list[dict[str, Any]]],
    setting: str,
    line: str,
    before_value: str,
    after_value: str,
) -> None:
    cluster, docs = configured
    status = cluster.wait_normal(timeout=180)
    old_active, old_standby = status["activeInstance"], status["standbyInstance"]
    creds = cluster.credentials()
    ips = cluster.pod_ips()
    assert _show(ips[old_active], creds, setting) == before_value
    before = _pods(cluster)
    assert before[old_active]["hash"] == before[old_standby]["hash"]

    db_config = next(
        d for d in docs if d["kind"] == "ConfigMap" and "db-config" in d["metadata"]["name"]
    )
    cm_name = db_config["metadata"]["name"]
    key = next(iter(db_config["data"]))
    new_text = db_config["data"][key] + line + "\n"  # the last occurrence wins

    writer = Writer(cluster.active_lookup(), creds)
    checker = WritabilityChecker(lambda: list(cluster.pod_ips().values()), creds)
    writer.start()
    checker.start()
    replaced_at: dict[str, float] = {}
    states: list[str] = []
    try:
        wait_for("the writer's first writes", lambda: len(writer.acks) >= 20, 30)
        t0 = time.monotonic()
        cluster.core.patch_namespaced_config_map(
            cm_name, cluster.namespace, {"data": {key: new_text}}
        )

        def rolled_out() -> bool:
            now = time.monotonic() - t0
            st = cluster.status()
            if not states or states[-1] != st.get("state"):
                states.append(str(st.get("state")))
            pods = _pods(cluster)
            for name, info in pods.items():
                if name not in replaced_at and info["uid"] != before[name]["uid"]:
                    replaced_at[name] = now
            synced = [i for i in st.get("instances", []) if i.get("inSync")]
            return (
                len(replaced_at) == 2
                and st.get("state") == "Normal"
                and st.get("rollout") is None
                and st.get("replicationMode") == "sync"
                and bool(synced)
            )

        wait_for("the configuration rollout", rolled_out, 240, 0.1)
        final = cluster.wait_normal(timeout=60)
        count = len(writer.acks)
        wait_for("writes after the rollout", lambda: len(writer.acks) >= count + 5, 30)
    finally:
        writer.stop()
        checker.stop()
    after_edit = [a.at for a in writer.acks if a.at > t0]
    longest = max((b - a for a, b in itertools.pairwise(after_edit)), default=0.0)
    print(
        f"\nrollout: pods replaced at {replaced_at}, states {states}, acked {len(writer.acks)}, "
        f"longest pause between acknowledged writes {longest:.2f}s"
    )

    # standby first, the former active last; a switchover in between
    assert replaced_at[old_standby] < replaced_at[old_active], replaced_at
    after = _pods(cluster)
    assert after[old_standby]["created"] <= after[old_active]["created"]
    assert final["activeInstance"] == old_standby, "no switchover to the updated standby"
    assert "Switchover" in states
    new_hash = after[old_active]["hash"]
    assert new_hash == after[old_standby]["hash"] != before[old_active]["hash"]

    # both instances run the new value
    ips = cluster.pod_ips()
    for pod in (old_active, old_standby):
        value = wait_for(
            f"{setting} on {pod}",
            lambda p=pod: _show(ips[p], creds, setting) == after_value,
            30,
        )
        assert value

    # data safety
    assert not checker.violations, f"two writable instances: {checker.violations[:3]}"
    lost = missing_acknowledged(ips[final["activeInstance"]], creds, writer.acked_ids)
    assert not lost, f"acknowledged writes lost: {sorted(lost)[:20]}"

    reasons = _event_reasons(cluster)
    for reason in (
        "RolloutStarted",
        "RolloutRestartStandby",
        "RolloutSwitchover",
        "SwitchoverCompleted",
        "RolloutRestartFormerActive",
        "RolloutCompleted",
    ):
        assert reason in reasons, (reason, reasons)


def test_single_instance_restarts_in_place_with_the_new_config(
    sandbox: Sandbox,
) -> None:
    """A single instance has no standby: the rollout deletes its pod (writes stop until
    the new pod serves); no acknowledged write is lost."""
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "single-rollout-db"},
        "data": {"zenith.conf": "work_mem = '8MB'\n"},
    }
    cluster = Cluster(sandbox.api, sandbox.namespace, "single-rollout-0")
    cluster.create(load_example("single", dbConfigMap=["single-rollout-db"], **FAST), [cm])
    try:
        cluster.wait_normal(timeout=120)
        creds = cluster.credentials()
        pod = naming.pod_name(cluster.name, 0)
        assert _show(cluster.pod_ips()[pod], creds, "work_mem") == "8MB"
        before = _pods(cluster)[pod]["uid"]
        writer = Writer(cluster.active_lookup(), creds)
        writer.start()
        try:
            wait_for("the writer's first writes", lambda: len(writer.acks) >= 20, 30)
            t0 = time.monotonic()
            cluster.core.patch_namespaced_config_map(
                "single-rollout-db",
                cluster.namespace,
                {"data": {"zenith.conf": "work_mem = '16MB'\n"}},
            )

            def done() -> bool:
                st = cluster.status()
                pods = _pods(cluster)
                return (
                    pod in pods
                    and pods[pod]["uid"] != before
                    and st.get("state") == "Normal"
                    and st.get("rollout") is None
                )

            wait_for("the single-instance rollout", done, 120, 0.1)
            count = len(writer.acks)
            wait_for("writes after the rollout", lambda: len(writer.acks) >= count + 5, 30)
        finally:
            writer.stop()
        gap = [a.at for a in writer.acks if a.at > t0]
        failed = writer.first_failure_after(t0)
        resumed = writer.first_ack_after(failed) if failed is not None else None
        downtime = resumed.at - failed if failed is not None and resumed is not None else 0.0
        print(
            f"\nsingle rollout: writes failed for about {downtime:.1f}s, acked {len(writer.acks)}"
        )
        assert gap, "no writes after the rollout"
        ip = cluster.pod_ips()[pod]
        assert _show(ip, creds, "work_mem") == "16MB"
        lost = missing_acknowledged(ip, creds, writer.acked_ids)
        assert not lost, f"acknowledged writes lost: {sorted(lost)[:20]}"
        assert "RolloutRestartInstance" in _event_reasons(cluster)
    finally:
        cluster.delete()
        wait_for(f"{cluster.name} gone", lambda: not cluster.pod_ips(), 60)
        with contextlib.suppress(client.ApiException):
            cluster.core.delete_namespaced_config_map("single-rollout-db", cluster.namespace)


def test_a_setting_postgres_refuses_stops_at_the_standby_and_a_revert_heals(
    configured: tuple[Cluster, list[dict[str, Any]]],
) -> None:
    """A setting PostgreSQL refuses: the standby restarted first does not start, the
    active keeps serving (async), no switchover happens. Reverting the ConfigMap restarts
    the standby again with the old configuration. (Lowering max_connections used to be
    the example; the agent now starts such a standby with the primary's value.)"""
    cluster, docs = configured
    status = cluster.wait_normal(timeout=180)
    old_active = status["activeInstance"]
    creds = cluster.credentials()
    db_config = next(
        d for d in docs if d["kind"] == "ConfigMap" and "db-config" in d["metadata"]["name"]
    )
    cm_name, key = db_config["metadata"]["name"], next(iter(db_config["data"]))
    original = db_config["data"][key]
    writer = Writer(cluster.active_lookup(), creds)
    checker = WritabilityChecker(lambda: list(cluster.pod_ips().values()), creds)
    writer.start()
    checker.start()
    try:
        wait_for("the writer's first writes", lambda: len(writer.acks) >= 20, 30)
        cluster.core.patch_namespaced_config_map(
            cm_name, cluster.namespace, {"data": {key: original + "shared_buffers = 'lots'\n"}}
        )
        wait_for(
            "the standby failing to start",
            lambda: cluster.state() == "StandbyPartiallyDown",
            60,
        )
        time.sleep(5)
        st = cluster.status()
        assert st["activeInstance"] == old_active and st["state"] != "Switchover"
        count = len(writer.acks)
        wait_for("writes while the standby is down", lambda: len(writer.acks) >= count + 5, 30)
        cluster.core.patch_namespaced_config_map(
            cm_name, cluster.namespace, {"data": {key: original}}
        )

        def healed() -> bool:
            s = cluster.status()
            return s.get("state") == "Normal" and s.get("rollout") is None

        wait_for("Normal again after the revert", healed, 120, 0.2)
        final = cluster.wait_normal(timeout=60)
        count = len(writer.acks)
        wait_for("writes after the revert", lambda: len(writer.acks) >= count + 5, 30)
    finally:
        writer.stop()
        checker.stop()
    assert final["activeInstance"] == old_active
    ips = cluster.pod_ips()
    for ip in ips.values():
        assert _show(ip, creds, "max_connections") == "200"
    assert not checker.violations, f"two writable instances: {checker.violations[:3]}"
    lost = missing_acknowledged(ips[old_active], creds, writer.acked_ids)
    assert not lost, f"acknowledged writes lost: {sorted(lost)[:20]}"
    assert "RolloutRetargeted" in _event_reasons(cluster)


def test_failing_recovery_is_bounded_and_reported(
    configured: tuple[Cluster, list[dict[str, Any]]],
) -> None:
    """A setting PostgreSQL refuses: the restarted standby fails to start, its agent stops
    trying after 3 starts with that configuration (no rewind/clone loop) and the reason,
    with PostgreSQL's FATAL line, reaches status.message; the active keeps serving; fixing
    the ConfigMap heals it (issue 12 item 4)."""
    cluster, docs = configured
    status = cluster.wait_normal(timeout=180)
    db_config = next(
        d for d in docs if d["kind"] == "ConfigMap" and "db-config" in d["metadata"]["name"]
    )
    cm_name, key = db_config["metadata"]["name"], next(iter(db_config["data"]))
    good = db_config["data"][key]
    cluster.core.patch_namespaced_config_map(
        cm_name, cluster.namespace, {"data": {key: good + "shared_buffers = 'lots'\n"}}
    )
    message = wait_for(
        "the bounded failure in status.message",
        lambda: (m := cluster.status().get("message", "")) and "3 times" in m and m,
        240,
        0.2,
    )
    print(f"\nstatus.message: {message}")
    assert "failed to start 3 times with this configuration" in message
    assert "FATAL" in message and "not trying again" in message
    assert cluster.status()["activeInstance"] == status["activeInstance"]
    creds = cluster.credentials()
    active_ip = cluster.pod_ips()[status["activeInstance"]]
    assert _show(active_ip, creds, "transaction_read_only") == "off"  # still writable
    cluster.core.patch_namespaced_config_map(cm_name, cluster.namespace, {"data": {key: good}})
    final = cluster.wait_normal(timeout=240)
    assert final.get("replicationMode") == "sync"
