"""`kubectl zenith`: its views (pure) and its commands against the API emulator (no
operator: what the plugin writes is the documented annotation or spec field)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from zenith_operator import naming
from zenith_operator.api import crd
from zenith_operator.controller.reconcile_kube import Kube
from zenith_operator.ha import SWITCHOVER_ANNOTATION
from zenith_operator.kubectl_plugin import main as plugin
from zenith_operator.kubectl_plugin import view

NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)


def iso(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).isoformat().replace("+00:00", "Z")


def body(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "pair", "namespace": "db"},
        "spec": {"zenithSpec": {"replicas": 2, "pollingInterval": 1, "unreachableTimeout": 5}},
        "status": {
            "state": "Normal", "since": iso(75), "message": "pair-1 is active, pair-0 streams",
            "activeInstance": "pair-1", "standbyInstance": "pair-0", "replicationMode": "sync",
            "leaseTtl": 4.0, "lastLeaseRenewal": iso(3),
            "instances": [
                {"name": "pair-0", "role": "standby", "health": "Healthy", "timeline": 2,
                 "position": 100, "lagBytes": 0, "inSync": True, "lastSeen": iso(3)},
                {"name": "pair-1", "role": "active", "health": "Healthy", "timeline": 2,
                 "position": 100, "lastSeen": iso(3)},
            ],
            "conditions": [{"type": "Ready", "status": "True"}],
            **status,
        },
    }  # fmt: skip


def test_status_view_shows_state_roles_lag_lease_and_the_latest_events_last() -> None:
    events = [
        {"type": "Warning", "reason": "FailoverStarted", "message": "pair-0 down",
         "lastTimestamp": iso(80)},
        {"type": "Normal", "reason": "FailoverCompleted", "message": "pair-1 is the active",
         "lastTimestamp": iso(76)},
    ]  # fmt: skip
    text = view.status_view(body(), events, NOW)
    lines = text.splitlines()
    assert "Cluster    db/pair" in lines
    assert "State      Normal for 1m15s" in lines
    assert "Active     pair-1" in lines and "Standby    pair-0" in lines
    assert "Replication sync" in lines
    assert any(line.startswith("Lease      TTL 4s") for line in lines)
    row = next(line for line in lines if line.startswith("pair-0"))
    assert row.split() == ["pair-0", "standby", "Healthy", "2", "100", "0", "yes", "3s"]
    assert text.index("FailoverStarted") < text.index("FailoverCompleted")


def test_status_view_of_a_cluster_in_trouble() -> None:
    pending = {"kind": "Failover", "target": "pair-0", "source": "pair-1", "since": iso(2),
               "attempts": 1}  # fmt: skip
    text = view.status_view(
        body(state="Failover", replicationMode="async", replicationDegraded=True,
             pendingAction=pending), [], NOW,
    )  # fmt: skip
    assert "Pending    Failover of pair-0 (from pair-1, 2s ago, 1 attempt(s))" in text
    assert "degraded" in text
    assert "Events (latest last):\n  none" in text


def test_rollout_view_marks_pods_to_restart() -> None:
    rollout = {"targetHash": "abcdef0123456789", "step": "RestartStandby", "instance": "pair-0",
               "restarts": 1, "since": iso(10)}  # fmt: skip
    text = view.rollout_view(body(rollout=rollout), {"pair-0": "abcdef0123456789",
                             "pair-1": "old"}, "abcdef0123456789", NOW)  # fmt: skip
    assert "step RestartStandby on pair-0" in text
    assert [line.split()[-1] for line in text.splitlines()[-2:]] == ["current", "restart"]


def test_ago() -> None:
    assert view.ago(iso(5), NOW) == "5s"
    assert view.ago(iso(3700), NOW) == "1h1m"
    assert view.ago(None, NOW) == "-"


# -- against the emulator ------------------------------------------------------------
@pytest.fixture
def cluster(kubeconfig: Path) -> Iterator[Kube]:
    kube = Kube.from_kubeconfig(kubeconfig)
    kube.request("POST", "/api/v1/namespaces",
                 {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "db"}})  # fmt: skip
    kube.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd.crd())
    path = f"/apis/{naming.GROUP}/{naming.VERSION}/namespaces/db/{naming.PLURAL}"
    deadline = time.monotonic() + 10
    while True:  # the CRD is served asynchronously
        try:
            kube.request("GET", path)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    obj = {"apiVersion": f"{naming.GROUP}/{naming.VERSION}", "kind": naming.KIND,
           "metadata": {"name": "pair", "namespace": "db"}, "spec": {"zenithSpec": {}}}  # fmt: skip
    kube.request("POST", path, obj)
    kube.request("PATCH", f"{path}/pair/status", {"status": body()["status"]},
                 "application/merge-patch+json")  # fmt: skip
    yield kube


def get(kube: Kube) -> dict[str, Any]:
    obj: dict[str, Any] = kube.request(
        "GET", f"/apis/{naming.GROUP}/{naming.VERSION}/namespaces/db/{naming.PLURAL}/pair"
    )
    return obj


def run(monkeypatch: pytest.MonkeyPatch, kubeconfig: Path, *argv: str) -> int:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    return plugin.main(list(argv))


def test_namespace_from_flag_before_or_after_the_command_or_the_context(
    cluster: Kube, kubeconfig: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    assert run(monkeypatch, kubeconfig, "status", "pair") == 1  # the context says default
    assert 'zenithclusters "pair" not found in namespace "default"' in capsys.readouterr().err
    assert run(monkeypatch, kubeconfig, "-n", "db", "status", "pair") == 0
    assert "State      Normal" in capsys.readouterr().out
    assert run(monkeypatch, kubeconfig, "status", "pair", "-n", "db") == 0
    doc = yaml.safe_load(kubeconfig.read_text())
    doc["contexts"][0]["context"]["namespace"] = "db"
    doc["contexts"].append({"name": "other", "context": {**doc["contexts"][0]["context"],
                            "namespace": "elsewhere"}})  # fmt: skip
    kubeconfig.write_text(yaml.safe_dump(doc))
    assert run(monkeypatch, kubeconfig, "status", "pair") == 0
    assert run(monkeypatch, kubeconfig, "--context", "other", "status", "pair") == 1
    assert 'namespace "elsewhere"' in capsys.readouterr().err
    assert run(monkeypatch, kubeconfig, "status", "pair", "--context", "missing") == 1
    assert 'context "missing" not found' in capsys.readouterr().err


def test_commands_write_the_documented_annotations_and_fields(
    cluster: Kube, kubeconfig: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    assert run(monkeypatch, kubeconfig, "-n", "db", "switchover", "pair") == 0
    assert get(cluster)["metadata"]["annotations"][SWITCHOVER_ANNOTATION] == "pair-0"
    assert run(monkeypatch, kubeconfig, "-n", "db", "switchover", "pair", "--to", "pair-1") == 1
    assert "pair-1 is already the active" in capsys.readouterr().err
    assert run(monkeypatch, kubeconfig, "-n", "db", "switchover", "pair", "--to", "x-0") == 1
    assert run(monkeypatch, kubeconfig, "-n", "db", "resume", "pair", "--active", "pair-1") == 0
    assert get(cluster)["metadata"]["annotations"][naming.RESUME_ANNOTATION] == "pair-1"
    assert run(monkeypatch, kubeconfig, "-n", "db", "resume", "pair") == 0
    assert get(cluster)["metadata"]["annotations"][naming.RESUME_ANNOTATION].isdigit()
    assert run(monkeypatch, kubeconfig, "-n", "db", "stop", "pair") == 0
    assert get(cluster)["spec"]["zenithSpec"]["stopped"] is True
    assert run(monkeypatch, kubeconfig, "-n", "db", "start", "pair") == 0
    assert get(cluster)["spec"]["zenithSpec"]["stopped"] is False
    assert run(monkeypatch, kubeconfig, "-n", "db", "rollout", "status", "pair") == 0
    assert "No configuration rollout in progress" in capsys.readouterr().out


def test_wait_times_out_with_a_clear_message_and_removes_the_switchover_annotation(
    cluster: Kube, kubeconfig: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    argv = ("-n", "db", "switchover", "pair", "--wait", "--timeout", "0.3")
    assert run(monkeypatch, kubeconfig, *argv) == 1
    captured = capsys.readouterr()
    assert "error: timed out after 0.3s waiting for pair-0 to become the active" in captured.err
    assert "[" in captured.out  # the progress line
    assert SWITCHOVER_ANNOTATION not in (get(cluster)["metadata"].get("annotations") or {})


def test_no_kubeconfig_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: Any
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert run(monkeypatch, tmp_path / "none", "status", "pair") == 1
    assert "no kubeconfig found" in capsys.readouterr().err
