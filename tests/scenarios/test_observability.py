"""Metrics and `kubectl zenith` against the sandbox: the real operator, agents and
PostgreSQL. The operator's and the agents' series move on a failover; the plugin runs
status, switchover, stop and start on the live cluster."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from zenith_operator import naming
from zenith_sandbox.metrics import Samples, agent_url, scrape
from zenith_sandbox.scenario import Cluster, wait_for
from zenith_sandbox.stack import Sandbox

pytestmark = pytest.mark.integration

PLUGIN = Path(sys.executable).parent / "kubectl-zenith"  # the installed entry point


def plugin(sandbox: Sandbox, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(sandbox.kubeconfig)}
    return subprocess.run(
        [str(PLUGIN), "-n", sandbox.namespace, *args],
        env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def operator_metrics(sandbox: Sandbox) -> Samples:
    assert sandbox.metrics_url is not None
    return scrape(sandbox.metrics_url)


def test_failover_moves_operator_and_agent_metrics(
    sandbox: Sandbox, make_cluster: Callable[..., Cluster]
) -> None:
    cluster = make_cluster("pair")
    status = cluster.wait_normal(timeout=120)
    active, standby = status["activeInstance"], status["standbyInstance"]
    ips = cluster.pod_ips()
    me = {"namespace": sandbox.namespace, "name": cluster.name}
    before = operator_metrics(sandbox)
    assert before.get("zenith_cluster_state", state="Normal", **me) == 1
    assert before.get("zenith_cluster_failovers_total", reason="in-sync-standby", **me) == 0
    assert before.get("zenith_cluster_replication_mode", mode="sync", **me) == 1
    assert (before.get("zenith_cluster_lease_remaining_seconds", **me) or 0) > 0
    agent_before = scrape(agent_url(ips[standby]))
    assert agent_before.get("zenith_agent_role", role="standby") == 1
    promotes = agent_before.get("zenith_agent_operation_duration_seconds_count",
                                operation="promote") or 0  # fmt: skip
    assert scrape(agent_url(ips[active])).get("zenith_agent_replication_streaming",
                                               standby=standby) == 1  # fmt: skip

    sandbox.faults.node_down(active)
    try:
        wait_for(f"{standby} active", lambda: cluster.status().get("activeInstance") == standby,
                 60)  # fmt: skip

        def failover_counted() -> Samples | None:
            m = operator_metrics(sandbox)
            done = m.get("zenith_cluster_failovers_total", reason="in-sync-standby", **me) == 1
            return m if done else None

        after = wait_for("the failover in the operator's metrics", failover_counted, 30)
        assert after.get("zenith_cluster_active_ordinal", **me) == int(standby[-1])
        took = after.get("zenith_cluster_last_failover_duration_seconds", **me)
        assert took is not None and 0 < took < 60
        assert (after.get("zenith_cluster_poll_errors_total", kind="timeout", **me) or 0) > 0
        failover_time = after.get("zenith_cluster_state_seconds_total", state="Failover", **me)
        assert failover_time is not None and failover_time > 0
        agent_after = scrape(agent_url(ips[standby]))
        assert agent_after.get("zenith_agent_role", role="active") == 1
        assert agent_after.get("zenith_agent_fenced") == 0
        assert (
            agent_after.get("zenith_agent_operation_duration_seconds_count", operation="promote")
            == promotes + 1
        )
    finally:
        sandbox.faults.node_up(active)
    cluster.wait_normal(timeout=120)


def test_kubectl_zenith_status_switchover_stop_start(
    sandbox: Sandbox, make_cluster: Callable[..., Cluster]
) -> None:
    cluster = make_cluster("pair")
    status = cluster.wait_normal(timeout=120)
    active, standby = status["activeInstance"], status["standbyInstance"]
    me = {"namespace": sandbox.namespace, "name": cluster.name}

    shown = plugin(sandbox, "status", cluster.name)
    assert shown.returncode == 0, shown.stderr
    assert "State      Normal" in shown.stdout and f"Active     {active}" in shown.stdout
    if shutil.which("kubectl"):  # kubectl finds the plugin on PATH
        env = {**os.environ, "KUBECONFIG": str(sandbox.kubeconfig),
               "PATH": f"{PLUGIN.parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # fmt: skip
        argv = ["kubectl", "zenith", "status", cluster.name]
        via_kubectl = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        assert via_kubectl.returncode == 0, via_kubectl.stderr
        assert "State      Normal" in via_kubectl.stdout

    switched = plugin(sandbox, "switchover", cluster.name, "--wait", "--timeout", "120")
    assert switched.returncode == 0, switched.stdout + switched.stderr
    assert f"switched over: {standby} is the active" in switched.stdout
    assert cluster.status()["activeInstance"] == standby
    annotations = (cluster.get() or {})["metadata"].get("annotations") or {}
    assert "zenith.huawei.cloudb.com/switchover-to" not in annotations
    wait_for("the switchover in the metrics", lambda: operator_metrics(sandbox).get(
        "zenith_cluster_switchovers_total", reason="annotation", **me) == 1, 30)  # fmt: skip

    refused = plugin(sandbox, "switchover", cluster.name, "--to", standby)
    assert refused.returncode == 1 and "already the active" in refused.stderr

    stopped = plugin(sandbox, "stop", cluster.name, "--wait", "--timeout", "120")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert cluster.state() == "Stopped"
    started = plugin(sandbox, "start", cluster.name, "--wait", "--timeout", "180")
    assert started.returncode == 0, started.stdout + started.stderr
    assert cluster.state() == "Normal"
    assert cluster.status()["activeInstance"] == standby  # the last active starts as active

    missing = plugin(sandbox, "status", "no-such-cluster")
    assert missing.returncode == 1
    assert 'zenithclusters "no-such-cluster" not found' in missing.stderr


def test_kubectl_zenith_resume_leaves_manual_intervention(
    sandbox: Sandbox, make_cluster: Callable[..., Cluster]
) -> None:
    """ManualIntervention recorded in the status (as an operator that could not tell who
    is ahead leaves it) is read by a restarted operator; the plugin's resume ends it."""
    cluster = make_cluster("pair")
    status = cluster.wait_normal(timeout=120)
    active = status["activeInstance"]
    proc = sandbox.procs["operator"]
    os.killpg(proc.pid, signal.SIGKILL)
    wait_for("the operator gone", lambda: not proc.alive(), 10)
    generation = (cluster.get() or {})["metadata"]["generation"]
    cluster.custom.patch_namespaced_custom_object_status(
        naming.GROUP, naming.VERSION, sandbox.namespace, naming.PLURAL, cluster.name,
        {"status": {"state": "ManualIntervention", "message": "test: who is ahead?",
                    "interventionGeneration": generation}},
    )  # fmt: skip
    sandbox.start_operator()
    shown = plugin(sandbox, "status", cluster.name)
    assert "State      ManualIntervention" in shown.stdout, shown.stdout + shown.stderr
    wait_for("the operator's metrics", lambda: operator_metrics(sandbox).get(
        "zenith_cluster_state", state="ManualIntervention", namespace=sandbox.namespace,
        name=cluster.name) == 1, 30)  # fmt: skip

    resumed = plugin(sandbox, "resume", cluster.name, "--active", active, "--wait",
                     "--timeout", "180")  # fmt: skip
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"resume of {cluster.name} requested: making {active} the active" in resumed.stdout
    assert cluster.status()["activeInstance"] == active
    rollout = plugin(sandbox, "rollout", "status", cluster.name)
    assert rollout.returncode == 0, rollout.stderr
    assert "No configuration rollout in progress" in rollout.stdout
    assert rollout.stdout.count("current") == 2  # both pods run the template's config
