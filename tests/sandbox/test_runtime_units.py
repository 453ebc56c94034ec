"""Pure pieces of the runtime: volumes/env, the probe state machine, the StatefulSet plan."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from zenith_sandbox.runtime import statefulsets as ss
from zenith_sandbox.runtime import volumes as vol
from zenith_sandbox.runtime.containers import container_argv
from zenith_sandbox.runtime.probes import ProbeTracker

POD: dict[str, Any] = {
    "metadata": {
        "name": "pair-0",
        "namespace": "ns",
        "uid": "u1",
        "labels": {"b": "2", "a": 'x"y'},
        "annotations": {},
    },
    "spec": {"nodeName": "sandbox-node"},
    "status": {"podIP": "127.0.0.7"},
}
OBJECTS = {
    ("configmap", "ns", "cfg"): {"data": {"k1": "v1", "k2": "v2"}},
    ("secret", "ns", "sec"): {"data": {"pw": base64.b64encode(b"p@ss").decode()}},
}


def fetch(kind: str, ns: str, name: str) -> dict[str, Any] | None:
    return OBJECTS.get((kind, ns, name))


def test_projected_volume_files() -> None:
    volume = {
        "name": "c",
        "projected": {
            "defaultMode": 0o640,
            "sources": [
                {"configMap": {"name": "cfg", "items": [{"key": "k1", "path": "db/one"}]}},
                {"secret": {"name": "sec"}},
                {"configMap": {"name": "missing", "optional": True}},
                {
                    "downwardAPI": {
                        "items": [
                            {"path": "podinfo/labels", "fieldRef": {"fieldPath": "metadata.labels"}}
                        ]
                    }
                },
            ],
        },
    }
    files = vol.render_volume(volume, POD, fetch)
    assert files == {
        "db/one": (b"v1", 0o640),
        "pw": (b"p@ss", 0o640),
        "podinfo/labels": (b'a="x\\"y"\nb="2"', 0o640),
    }


def test_missing_source_is_an_error_unless_optional() -> None:
    with pytest.raises(vol.VolumeError):
        vol.render_volume({"name": "x", "configMap": {"name": "nope"}}, POD, fetch)
    assert vol.render_volume({"name": "x", "emptyDir": {}}, POD, fetch) is None


def test_sync_dir_replaces_and_prunes(tmp_path: Path) -> None:
    assert vol.sync_dir(tmp_path, {"a/b": (b"1", 0o644), "c": (b"2", 0o600)})
    assert not vol.sync_dir(tmp_path, {"a/b": (b"1", 0o644), "c": (b"2", 0o600)})
    assert vol.sync_dir(tmp_path, {"c": (b"3", 0o600)})
    assert not (tmp_path / "a").exists() and (tmp_path / "c").read_bytes() == b"3"
    with pytest.raises(vol.VolumeError):
        vol.sync_dir(tmp_path, {"../escape": (b"", 0o644)})


def test_env_resolution_expansion_and_rewrite() -> None:
    container = {
        "name": "c",
        "env": [
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "URL", "value": "http://$(IP):1/$$(IP)/$(NOPE)"},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "pw"}}},
            {
                "name": "OPT",
                "valueFrom": {"configMapKeyRef": {"name": "x", "key": "y", "optional": True}},
            },
            {"name": "ROLE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['b']"}}},
        ],
        "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "P_"}],
    }
    env = vol.resolve_env(container, POD, fetch)
    assert env == {
        "P_k1": "v1",
        "P_k2": "v2",
        "IP": "127.0.0.7",
        "URL": "http://127.0.0.7:1/$(IP)/$(NOPE)",
        "PW": "p@ss",
        "ROLE": "2",
    }
    mounts = vol.mount_map(
        {
            "volumeMounts": [
                {"name": "cfg", "mountPath": "/etc/zenith"},
                {"name": "data", "mountPath": "/var/lib/zenith/"},
                {"name": "cfg", "mountPath": "/etc/zenith/sub", "subPath": "s"},
            ]
        },
        {"cfg": Path("/h/cfg"), "data": Path("/h/pvc")},
    )
    out = vol.rewrite_env(
        {
            "A": "/etc/zenith",
            "B": "/etc/zenith/agent/token",
            "C": "/etc/zenithx",
            "D": "/var/lib/zenith",
            "E": "/etc/zenith/sub/f",
            "F": "relative/etc/zenith",
        },
        mounts,
    )
    assert out == {
        "A": "/h/cfg",
        "B": "/h/cfg/agent/token",
        "C": "/etc/zenithx",
        "D": "/h/pvc",
        "E": "/h/cfg/s/f",
        "F": "relative/etc/zenith",
    }


def test_container_argv_maps_our_executable() -> None:
    argv = container_argv(
        {"command": ["zenith-operator", "agent"], "args": ["$(X)", "/etc/zenith/y"]},
        {"X": "/h/y"},
    )
    assert argv[1:] == ["-m", "zenith_operator", "agent", "/h/y", "/etc/zenith/y"]
    with pytest.raises(vol.VolumeError):
        container_argv({"image": "postgres"}, {})


def test_probe_thresholds() -> None:
    ready = ProbeTracker("readiness", {"failureThreshold": 2, "successThreshold": 2})
    assert ready.result is False
    assert ready.record(True) is None and ready.record(True) is True
    assert ready.record(False) is None and ready.record(False) is False
    live = ProbeTracker("liveness", {"failureThreshold": 3})
    assert live.result is True
    assert [live.record(False) for _ in range(3)] == [None, None, False]
    startup = ProbeTracker("startup", {"failureThreshold": 2})
    assert startup.record(False) is None and startup.record(False) is False
    assert ProbeTracker("startup", {}).record(True) is True


def sts(**spec: Any) -> dict[str, Any]:
    base = {
        "replicas": 2,
        "serviceName": "db",
        "selector": {"matchLabels": {"app": "db"}},
        "template": {
            "metadata": {"labels": {"app": "db"}},
            "spec": {"containers": [{"name": "c"}]},
        },
        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {}}],
    }
    return {
        "metadata": {"name": "db", "namespace": "ns", "uid": "S", "generation": 3},
        "spec": {**base, **spec},
        "status": {},
    }


def pod(s: dict[str, Any], ordinal: int, ready: bool = True, **meta: Any) -> dict[str, Any]:
    p = ss.build_pod(s, ordinal, ss.revision(s))
    p["metadata"].update(uid=f"p{ordinal}", **meta)
    p["status"] = {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
    }
    return p


def test_plan_ordered_ready_creates_one_at_a_time_with_claims() -> None:
    s = sts()
    plan = ss.plan(s, [], [])
    assert [c["metadata"]["name"] for c in plan.create_pvcs] == ["data-db-0", "data-db-1"]
    assert [p["metadata"]["name"] for p in plan.create_pods] == ["db-0"]
    created = plan.create_pods[0]
    assert created["spec"]["hostname"] == "db-0" and created["spec"]["subdomain"] == "db"
    assert created["spec"]["volumes"] == [
        {"name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}}
    ]
    assert ss.plan(s, [pod(s, 0, ready=False)], []).create_pods == []
    assert [p["metadata"]["name"] for p in ss.plan(s, [pod(s, 0)], []).create_pods] == ["db-1"]
    parallel = ss.plan(sts(podManagementPolicy="Parallel"), [], [])
    assert len(parallel.create_pods) == 2


def test_plan_scale_down_retains_claims_unless_told() -> None:
    s = sts(replicas=1)
    claims = [{"metadata": {"name": f"data-db-{i}"}} for i in range(3)]
    plan = ss.plan(s, [pod(s, 0), pod(s, 1), pod(s, 2)], claims)
    assert [d[0] for d in plan.delete_pods] == ["db-2"] and plan.delete_pvcs == []
    s = sts(replicas=1, persistentVolumeClaimRetentionPolicy={"whenScaled": "Delete"})
    assert ss.plan(s, [pod(s, 0)], claims).delete_pvcs == ["data-db-1", "data-db-2"]


def test_plan_rolling_update_from_the_top_and_on_delete() -> None:
    old = sts()
    new = sts(
        template={
            "metadata": {"labels": {"app": "db", "v": "2"}},
            "spec": {"containers": [{"name": "c"}]},
        }
    )
    pods = [pod(old, 0), pod(old, 1)]
    assert [d[0] for d in ss.plan(new, pods, []).delete_pods] == ["db-1"]
    on_delete = {**new, "spec": {**new["spec"], "updateStrategy": {"type": "OnDelete"}}}
    assert ss.plan(on_delete, pods, []).delete_pods == []
    status = ss.plan(on_delete, pods, []).status
    assert status is not None and status["updatedReplicas"] == 0
    assert status["observedGeneration"] == 3 and status["readyReplicas"] == 2
