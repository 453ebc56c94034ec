"""spec.agentSpec.tlsSecret in the pod template (issue 12 item 8)."""

from __future__ import annotations

import base64

from zenith_operator.api.cluster import ClusterRef
from zenith_operator.api.spec import parse_spec
from zenith_operator.controller.agent_tls import ca_of, pod_server_name
from zenith_operator.resources.pod import pod_template

REF = ClusterRef(name="pair", namespace="ns", uid="uid-1")


def _pod(agent_spec: dict[str, str]) -> dict[str, object]:
    return pod_template(REF, parse_spec({"agentSpec": agent_spec}), [], "h")


def test_tls_secret_mounts_the_pair_and_switches_probes_to_https() -> None:
    pod = _pod({"tlsSecret": "pair-agent-tls"})
    spec = pod["spec"]
    assert isinstance(spec, dict)
    volume = next(v for v in spec["volumes"] if v["name"] == "agent-tls")
    assert volume["secret"]["secretName"] == "pair-agent-tls"
    assert [i["key"] for i in volume["secret"]["items"]] == ["tls.crt", "tls.key"]
    container = spec["containers"][0]
    assert {"name": "ZENITH_TLS_DIR", "value": "/etc/zenith-tls"} in container["env"]
    assert {"name": "agent-tls", "mountPath": "/etc/zenith-tls", "readOnly": True} in (
        container["volumeMounts"]
    )
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["scheme"] == "HTTPS"


def test_without_tls_secret_nothing_changes() -> None:
    spec = _pod({})["spec"]
    assert isinstance(spec, dict)
    container = spec["containers"][0]
    assert all(v["name"] != "agent-tls" for v in spec["volumes"])
    assert all(e["name"] != "ZENITH_TLS_DIR" for e in container["env"])
    assert container["livenessProbe"]["httpGet"]["scheme"] == "HTTP"


def test_operator_trusts_ca_crt_else_tls_crt_and_checks_the_pod_name() -> None:
    b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    assert ca_of({"data": {"ca.crt": b64("CA"), "tls.crt": b64("CRT")}}) == "CA"
    assert ca_of({"data": {"tls.crt": b64("CRT")}}) == "CRT"
    assert ca_of(None) is None
    assert pod_server_name("pair-1", "pair", "ns") == "pair-1.pair.ns.svc"


def test_operator_reads_tls_per_pod_from_the_pod_spec() -> None:
    from zenith_operator.controller.observe import PodInfo

    with_tls = {"metadata": {"name": "pair-0"}, "spec": _pod({"tlsSecret": "s1"})["spec"]}
    without = {"metadata": {"name": "pair-1"}, "spec": _pod({})["spec"]}
    assert PodInfo.of(with_tls).agent_tls_secret == "s1"
    assert PodInfo.of(without).agent_tls_secret is None
