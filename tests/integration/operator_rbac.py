"""The operator's real identity for integration tests: deploy/rbac applied to the API
emulator and a kubeconfig holding a token of ServiceAccount zenith-system/zenith-operator,
so the operator runs with exactly the permissions it ships with (the emulator enforces
RBAC for ServiceAccount tokens) and a missing verb fails a test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from zenith_operator.controller.reconcile_kube import Kube

ROOT = Path(__file__).resolve().parents[2]
RBAC_DIR = ROOT / "deploy" / "rbac"
SA_NAMESPACE, SA_NAME = "zenith-system", "zenith-operator"
USER = f"system:serviceaccount:{SA_NAMESPACE}:{SA_NAME}"
_PATHS = {
    "ServiceAccount": f"/api/v1/namespaces/{SA_NAMESPACE}/serviceaccounts",
    "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
}
Rules = list[dict[str, Any]]
Edit = Callable[[Rules], Rules]


def install(kube: Kube, edit_rules: Edit | None = None) -> None:
    """Apply deploy/rbac's ServiceAccount, ClusterRole (rules passed through `edit_rules`)
    and ClusterRoleBinding with admin credentials."""
    kube.request("POST", "/api/v1/namespaces", {"metadata": {"name": SA_NAMESPACE}})
    for name in ("service-account.yaml", "cluster-role.yaml", "cluster-role-binding.yaml"):
        doc = yaml.safe_load((RBAC_DIR / name).read_text())
        if doc["kind"] == "ClusterRole" and edit_rules is not None:
            doc["rules"] = edit_rules(doc["rules"])
        kube.request("POST", _PATHS[doc["kind"]], doc)


def operator_kubeconfig(kube: Kube, admin_kubeconfig: Path, path: Path) -> Path:
    """A copy of the admin kubeconfig whose user holds a ServiceAccount token."""
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}
    answer = kube.request(
        "POST", f"/api/v1/namespaces/{SA_NAMESPACE}/serviceaccounts/{SA_NAME}/token", request
    )
    config = yaml.safe_load(admin_kubeconfig.read_text())
    for user in config["users"]:
        user["user"] = {"token": answer["status"]["token"]}
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def without(resource: str, verb: str) -> Edit:
    """An edit for `install`: the role minus `verb` on `resource`."""

    def edit(rules: Rules) -> Rules:
        out = []
        for rule in rules:
            if resource in rule.get("resources", []):
                rule = {**rule, "verbs": [v for v in rule["verbs"] if v != verb]}
            out.append(rule)
        return out

    return edit
