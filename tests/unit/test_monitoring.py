"""deploy/monitoring: the Grafana dashboard, the PrometheusRule and the monitors.

Every PromQL expression parses (promql-parser, Prometheus' grammar) and every metric it
names is one the operator or the agent exports; the monitors point at ports and labels
that the operator's Service and the database pods really have.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import promql_parser
import pytest
import yaml
from prometheus_client import CollectorRegistry

from zenith_operator import naming
from zenith_operator.agent import metrics as agent_metrics
from zenith_operator.agent.engine import EngineStatus
from zenith_operator.agent.lease import Lease
from zenith_operator.api.cluster import ClusterRef
from zenith_operator.api.spec import parse_spec
from zenith_operator.api.status import ZenithClusterStatus
from zenith_operator.controller import metrics
from zenith_operator.ha.model import Observations, Settings
from zenith_operator.resources.pod import pod_template
from zenith_operator.wire import DatabaseState, PeerReplication, ReplicationStatus, Role

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy/monitoring"
GRAFANA_VARIABLES = {"$__range": "1h", "$__rate_interval": "1m", "$__interval": "1m"}


def docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((MONITORING / name).read_text()) if d]


def exported() -> set[str]:
    """Every sample name the operator and the agent can export (all optional parts set)."""
    key = ("ns", "every-series")
    c = metrics.CLUSTERS
    c.track(key)
    c.cycle(key, ZenithClusterStatus(), ZenithClusterStatus(state="Normal",
            active_instance="x-0"), Observations(Settings(), ()), time.time())  # fmt: skip
    c.lease_renewed(key, time.time(), 4.0, ok=True)
    c.polled(key, 0.1, "timeout")
    with c.lock:
        c.clusters[key].last_failover_seconds = 1.0
        c.clusters[key].state_seconds["ActiveDown"] = 1.0
    metrics.RECONCILE.labels("create").observe(0.1)
    metrics.api_request("GET", 500)
    lease = Lease()
    lease.grant(4.0, "t")
    peer = PeerReplication(name="x-1", streaming=True, sync=True, lag_bytes=1, lag_seconds=0.1)
    es = EngineStatus(DatabaseState.RUNNING, timeline=1, position=1,
                      replication=ReplicationStatus(peers=[peer], received_position=1))  # fmt: skip
    agent = SimpleNamespace(state=SimpleNamespace(role=Role.ACTIVE), fenced=False, lease=lease,
                            engine=SimpleNamespace(name="postgres"),
                            engine_snapshot=lambda: (es, time.monotonic()))  # fmt: skip
    registry = CollectorRegistry()
    registry.register(agent_metrics.AgentCollector(agent))  # type: ignore[arg-type]
    try:
        return {
            s.name
            for r in (metrics.REGISTRY, registry, agent_metrics.REGISTRY)
            for family in r.collect()
            for s in family.samples
        }
    finally:
        c.forget(key)


def metric_names(expr: str) -> set[str]:
    """Parse (raises ValueError on bad PromQL) and return every selected metric name."""
    for var, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(var, value)
    expr = re.sub(r"\$\{?(\w+)\}?", ".*", expr)
    tree = promql_parser.parse(expr)
    names: set[str] = set()

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)
        return True

    promql_parser.walk(tree, visit)
    return names


def dashboard() -> dict[str, Any]:
    board: dict[str, Any] = json.loads((MONITORING / "zenith-dashboard.json").read_text())
    return board


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]


def rules() -> list[dict[str, Any]]:
    (rule,) = docs("prometheus-rule.yaml")
    return [r for g in rule["spec"]["groups"] for r in g["rules"]]


def test_the_checker_refuses_bad_promql_and_finds_names() -> None:
    with pytest.raises(ValueError):
        metric_names("sum(rate(zenith_cluster_state[5m]) by")
    assert metric_names('a_total > on (x) group_left b{c=~"$namespace"}') == {"a_total", "b"}


def test_dashboard_structure() -> None:
    board = dashboard()
    assert board["uid"] and board["title"] and board["schemaVersion"] >= 36
    panels = board["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    variables = {v["name"] for v in board["templating"]["list"]}
    assert variables == {"datasource", "namespace", "cluster"}
    titles = " ".join(p["title"] for p in panels).lower()
    for wanted in ("cluster state", "failover", "lag", "poll latency"):
        assert wanted in titles
    for p in panels:
        assert {"x", "y", "w", "h"} <= p["gridPos"].keys()
        if p["type"] == "row":
            continue
        assert p["targets"], p["title"]
        assert p["datasource"]["uid"] == "${datasource}"
        for t in p["targets"]:
            used = set(re.findall(r"\$(\w+)", t["expr"])) - {"__range", "__rate_interval"}
            assert used <= variables, (p["title"], used)


@pytest.mark.parametrize("expr", dashboard_exprs())
def test_dashboard_queries_parse_and_use_exported_metrics(expr: str) -> None:
    missing = metric_names(expr) - exported()
    assert not missing, f"not exported: {missing}"


def test_rules_structure_and_the_alerts_asked_for() -> None:
    (rule,) = docs("prometheus-rule.yaml")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1" and rule["kind"] == "PrometheusRule"
    by_name = {r["alert"]: r for r in rules()}
    assert len(by_name) == len(rules())
    for r in rules():
        assert r["labels"]["severity"] in ("warning", "critical")
        assert r["annotations"]["summary"]
        assert re.fullmatch(r"\d+[smh]", r["for"])
    assert by_name["ZenithClusterNotNormal"]["for"] == "5m"
    assert 'state="ManualIntervention"' in by_name["ZenithClusterManualIntervention"]["expr"]
    assert "replication_degraded" in by_name["ZenithReplicationDegraded"]["expr"]
    assert "lag_bytes" in by_name["ZenithReplicationLagHigh"]["expr"]
    assert "lease_remaining" in by_name["ZenithLeaseNearExpiry"]["expr"]


@pytest.mark.parametrize("rule", rules(), ids=lambda r: r["alert"])
def test_rule_expressions_parse_and_use_exported_metrics(rule: dict[str, Any]) -> None:
    missing = metric_names(rule["expr"]) - exported()
    assert not missing, f"not exported: {missing}"


def test_service_monitor_scrapes_the_operator_service() -> None:
    (monitor,) = docs("service-monitor.yaml")
    service = next(d for d in yaml.safe_load_all((ROOT / "deploy/operator.yaml").read_text())
                   if d["kind"] == "Service")  # fmt: skip
    labels = service["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["honorLabels"] is True  # the clusters' namespace label must survive
    deployment = next(d for d in yaml.safe_load_all((ROOT / "deploy/operator.yaml").read_text())
                      if d["kind"] == "Deployment")  # fmt: skip
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "metrics", "containerPort": 8081} in container["ports"]
    assert container["args"][container["args"].index("--metrics") + 1].endswith(":8081")


def test_pod_monitor_scrapes_the_agents_and_names_the_cluster() -> None:
    (monitor,) = docs("pod-monitor.yaml")
    ref = ClusterRef(name="pair", namespace="db", uid="u")
    pod = pod_template(ref, parse_spec({"zenithSpec": {}}), [], "h")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    ports = {p["name"] for p in pod["spec"]["containers"][0]["ports"]}
    assert endpoint["port"] in ports
    (relabel,) = endpoint["relabelings"]
    source = re.sub(r"[^a-zA-Z0-9_]", "_", naming.CLUSTER_LABEL)
    assert relabel["sourceLabels"] == [f"__meta_kubernetes_pod_label_{source}"]
    assert relabel["targetLabel"] == "name"


def test_kustomization_lists_every_monitoring_file() -> None:
    k = yaml.safe_load((MONITORING / "kustomization.yaml").read_text())
    listed = set(k["resources"]) | {f for g in k["configMapGenerator"] for f in g["files"]}
    on_disk = {p.name for p in MONITORING.iterdir() if p.name != "kustomization.yaml"}
    assert listed == on_disk
