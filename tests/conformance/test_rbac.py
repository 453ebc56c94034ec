"""RBAC for a ServiceAccount: TokenRequest, Roles and bindings, the 403 wording."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client import ApiClient

from zenith_sandbox.apiserver import ApiServer

from .conftest import REAL, poll, raw, statefulset

RBAC = "/apis/rbac.authorization.k8s.io/v1"


def _as_token(api_client: ApiClient, token: str) -> ApiClient:
    """A client for the same server that authenticates with `token` only."""
    cfg = copy.copy(api_client.configuration)
    cfg.api_key = {"BearerToken": f"Bearer {token}"}
    cfg.api_key_prefix = {}
    cfg.refresh_api_key_hook = None  # the kubeconfig loader's hook would restore its token
    cfg.cert_file = cfg.key_file = None
    return ApiClient(cfg)


def _token(api_client: ApiClient, ns: str, sa: str) -> str:
    status, body = raw(
        api_client,
        "POST",
        f"/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}},
    )
    assert status == 201, body
    assert body["kind"] == "TokenRequest" and body["status"]["expirationTimestamp"]
    token: str = body["status"]["token"]
    return token


@pytest.fixture
def robot(api_client: ApiClient, ns: str) -> Iterator[ApiClient]:
    """ServiceAccount `robot` that may read ConfigMaps in `ns` (Role + RoleBinding)."""
    raw(
        api_client,
        "POST",
        f"/api/v1/namespaces/{ns}/serviceaccounts",
        {"metadata": {"name": "robot"}},
    )
    role = {
        "metadata": {"name": "reader"},
        "rules": [
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}
        ],
    }
    assert raw(api_client, "POST", f"{RBAC}/namespaces/{ns}/roles", role)[0] == 201
    binding = {
        "metadata": {"name": "robot-reads"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": ns}],
    }
    assert raw(api_client, "POST", f"{RBAC}/namespaces/{ns}/rolebindings", binding)[0] == 201
    robot_client = _as_token(api_client, _token(api_client, ns, "robot"))
    try:
        # a real server's authorizer reads roles from informers: wait until it sees them
        poll(
            lambda: raw(robot_client, "GET", f"/api/v1/namespaces/{ns}/configmaps")[0] == 200,
            what="the RoleBinding in effect",
        )
        yield robot_client
    finally:
        robot_client.close()


def _forbidden(body: Any, message: str) -> None:
    assert body["reason"] == "Forbidden" and body["code"] == 403
    assert body["message"] == message


def test_role_grants_and_403_wording(api_client: ApiClient, robot: ApiClient, ns: str) -> None:
    user = f"system:serviceaccount:{ns}:robot"
    status, body = raw(robot, "GET", "/api")  # discovery: every authenticated user
    assert status == 200 and body["kind"] == "APIVersions"
    status, body = raw(
        robot, "POST", f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": "c"}}
    )
    assert status == 403
    _forbidden(
        body,
        f'configmaps is forbidden: User "{user}" cannot create resource "configmaps" in API '
        f'group "" in the namespace "{ns}"',
    )
    assert body["details"] == {"kind": "configmaps"}
    status, body = raw(robot, "GET", f"/api/v1/namespaces/{ns}/secrets/s")
    assert status == 403
    _forbidden(
        body,
        f'secrets "s" is forbidden: User "{user}" cannot get resource "secrets" in API group "" '
        f'in the namespace "{ns}"',
    )
    assert body["details"] == {"name": "s", "kind": "secrets"}
    status, body = raw(robot, "GET", "/api/v1/namespaces")
    assert status == 403
    _forbidden(
        body,
        f'namespaces is forbidden: User "{user}" cannot list resource "namespaces" in API group '
        '"" at the cluster scope',
    )
    apps = client.AppsV1Api(api_client)
    apps.create_namespaced_stateful_set(ns, statefulset())
    status, body = raw(
        robot,
        "PATCH",
        f"/apis/apps/v1/namespaces/{ns}/statefulsets/s/status",
        {"status": {"replicas": 0}},
        "application/merge-patch+json",
    )
    assert status == 403
    _forbidden(
        body,
        f'statefulsets.apps "s" is forbidden: User "{user}" cannot patch resource '
        f'"statefulsets/status" in API group "apps" in the namespace "{ns}"',
    )
    assert body["details"] == {"name": "s", "group": "apps", "kind": "statefulsets"}


def test_cluster_role_binding_grants_cluster_scope(
    api_client: ApiClient, robot: ApiClient, ns: str
) -> None:
    name = f"zconf-rbac-{uuid.uuid4().hex[:8]}"
    role = {
        "metadata": {"name": name},
        "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list"]}],
    }
    binding = {
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": ns}],
    }
    try:
        assert raw(api_client, "POST", f"{RBAC}/clusterroles", role)[0] == 201
        assert raw(api_client, "POST", f"{RBAC}/clusterrolebindings", binding)[0] == 201
        poll(lambda: raw(robot, "GET", "/api/v1/namespaces")[0] == 200, what="binding in effect")
        assert raw(robot, "GET", f"/api/v1/namespaces/{ns}")[0] == 200
        status, body = raw(robot, "GET", "/api/v1/namespaces", query={"watch": "true"})
        assert status == 403  # granted get and list, not watch
        assert 'cannot watch resource "namespaces"' in body["message"]
    finally:
        raw(api_client, "DELETE", f"{RBAC}/clusterrolebindings/{name}")
        raw(api_client, "DELETE", f"{RBAC}/clusterroles/{name}")


def test_token_dies_with_its_service_account(
    api_client: ApiClient, robot: ApiClient, ns: str
) -> None:
    raw(api_client, "DELETE", f"/api/v1/namespaces/{ns}/serviceaccounts/robot")

    def rejected() -> bool:
        return raw(robot, "GET", f"/api/v1/namespaces/{ns}/configmaps")[0] == 401

    poll(rejected, what="the token of a deleted ServiceAccount rejected")
    status, body = raw(robot, "GET", f"/api/v1/namespaces/{ns}/configmaps")
    assert body["reason"] == "Unauthorized" and body["message"] == "Unauthorized"
    status, body = raw(
        api_client,
        "POST",
        f"/api/v1/namespaces/{ns}/serviceaccounts/robot/token",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}},
    )
    assert status == 404 and body["message"] == 'serviceaccounts "robot" not found'


@pytest.mark.skipif(REAL is not None, reason="inspects the emulator's static tokens")
def test_emulator_static_tokens_and_groups(tmp_path: Path) -> None:
    srv = ApiServer(tokens={"jane-token": "jane"})
    srv.start()
    admin = config.new_client_from_config(str(srv.write_kubeconfig(tmp_path / "kc")))
    jane = _as_token(admin, "jane-token")
    stale = _as_token(admin, "zenith-sa.issued-by-an-earlier-run")
    try:
        status, body = raw(jane, "GET", "/api/v1/namespaces/default/pods")
        assert status == 403
        assert body["message"] == (
            'pods is forbidden: User "jane" cannot list resource "pods" in API group "" in '
            'the namespace "default"'
        )
        role = {
            "metadata": {"name": "pod-reader"},
            "rules": [{"apiGroups": ["*"], "resources": ["pods", "*/status"], "verbs": ["*"]}],
        }
        binding = {
            "metadata": {"name": "everyone-reads-pods"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "pod-reader"},
            "subjects": [{"kind": "Group", "name": "system:authenticated"}],
        }  # fmt: skip
        assert raw(admin, "POST", f"{RBAC}/clusterroles", role)[0] == 201
        assert raw(admin, "POST", f"{RBAC}/clusterrolebindings", binding)[0] == 201
        assert raw(jane, "GET", "/api/v1/namespaces/default/pods")[0] == 200
        assert raw(jane, "GET", "/api/v1/namespaces/default/configmaps")[0] == 403
        assert raw(stale, "GET", "/api/v1/namespaces/default/pods")[0] == 401
    finally:
        for c in (jane, stale, admin):
            c.close()
        srv.stop()
