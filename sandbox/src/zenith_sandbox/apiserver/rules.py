"""Built-in update rules kube-apiserver enforces that clients trip over in practice."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .errors import FieldError
from .rest import Ctx
from .storage import Obj

_POD_UPDATE = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
    "(allow it to be set to 1 if it was previously negative)"
)
_STS_UPDATE = (
    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
    "'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and "
    "'minReadySeconds' are forbidden"
)
_STS_MUTABLE = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "revisionHistoryLimit",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)


def selector_matches(selector: Obj, labels: dict[str, Any]) -> bool:
    """metav1.LabelSelector (matchLabels + matchExpressions) against a label set."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _pod_spec_view(spec: Obj) -> Obj:
    view: Obj = json.loads(json.dumps(spec))
    for key in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds"):
        view.pop(key, None)
    for key in ("containers", "initContainers"):
        for c in view.get(key) or []:
            c.pop("image", None)
    return view


def pod(obj: Obj, old: Obj | None, ctx: Ctx) -> list[FieldError]:
    if old is None or ctx.internal:
        return []
    if _pod_spec_view(obj.get("spec", {})) != _pod_spec_view(old.get("spec", {})):
        return [FieldError("forbidden", "spec", detail=_POD_UPDATE)]
    return []


def _template_selector(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec", {})
    selector = spec.get("selector")
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if not selector:
        return []
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        return [
            FieldError(
                "invalid",
                "spec.selector",
                selector,
                "empty selector is invalid for deployment",
            )
        ]
    if not selector_matches(selector, labels):
        return [
            FieldError(
                "invalid",
                "spec.template.metadata.labels",
                labels,
                "`selector` does not match template `labels`",
            )
        ]
    return []


def statefulset(obj: Obj, old: Obj | None, ctx: Ctx) -> list[FieldError]:
    errs = _template_selector(obj)
    if old is not None:
        new_spec = {k: v for k, v in obj.get("spec", {}).items() if k not in _STS_MUTABLE}
        old_spec = {k: v for k, v in old.get("spec", {}).items() if k not in _STS_MUTABLE}
        if new_spec != old_spec:
            errs.append(FieldError("forbidden", "spec", detail=_STS_UPDATE))
    return errs


def deployment(obj: Obj, old: Obj | None, ctx: Ctx) -> list[FieldError]:
    errs = _template_selector(obj)
    if old is not None and obj.get("spec", {}).get("selector") != old.get("spec", {}).get(
        "selector"
    ):
        errs.append(
            FieldError(
                "invalid", "spec.selector", obj["spec"].get("selector"), "field is immutable"
            )
        )
    return errs


def service(obj: Obj, old: Obj | None, ctx: Ctx) -> list[FieldError]:
    if old is None:
        return []
    spec, old_spec = obj.setdefault("spec", {}), old.get("spec", {})
    if not spec.get("clusterIP") and old_spec.get("clusterIP"):
        spec["clusterIP"] = old_spec["clusterIP"]
        spec["clusterIPs"] = old_spec.get("clusterIPs", [old_spec["clusterIP"]])
    if spec.get("clusterIP") != old_spec.get("clusterIP"):
        ips = spec.get("clusterIPs") or [spec.get("clusterIP")]
        return [FieldError("invalid", "spec.clusterIPs[0]", ips, "may not change once set")]
    return []


RULES: dict[tuple[str, str], Callable[[Obj, Obj | None, Ctx], list[FieldError]]] = {
    ("", "pods"): pod,
    ("apps", "statefulsets"): statefulset,
    ("apps", "deployments"): deployment,
    ("apps", "replicasets"): deployment,
    ("", "services"): service,
}
