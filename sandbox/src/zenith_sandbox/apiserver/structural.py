"""More of apiextensions' structural-schema rules (pkg/apiserver/schema/validation.go).

`crds.structural_errors` checks types, items and properties; these are the rest that a
hand-written or generated CRD can trip over: the root, root metadata, vendor extensions
that exclude each other, regex patterns, and what a value validation (allOf, anyOf, oneOf,
not) may hold.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import FieldError

Schema = dict[str, Any]
_JUNCTORS = ("allOf", "anyOf", "oneOf")
_INT_OR_STRING_ANY_OF = [{"type": "integer"}, {"type": "string"}]
# Keys a schema under a junctor must not set, and how kube-apiserver words each.
_FORBIDDEN_NESTED = {
    "type": "must be empty to be structural",
    "additionalProperties": "must be undefined to be structural",
    "default": "must be undefined to be structural",
    "title": "must be empty to be structural",
    "description": "must be empty to be structural",
    "nullable": "must be false to be structural",
    "x-kubernetes-preserve-unknown-fields": "must be false to be structural",
    "x-kubernetes-embedded-resource": "must be false to be structural",
    "x-kubernetes-int-or-string": "must be false to be structural",
    "x-kubernetes-list-map-keys": "must be empty to be structural",
    "x-kubernetes-list-type": "must be undefined to be structural",
    "x-kubernetes-map-type": "must be undefined to be structural",
}


def extra_errors(root: Schema, path: str) -> list[FieldError]:
    """Structural-schema violations besides those `crds.structural_errors` reports."""
    errs: list[FieldError] = []
    if root.get("type") and root.get("type") != "object":
        errs.append(
            FieldError("invalid", f"{path}.type", root["type"], "must be object at the root")
        )
    if "additionalProperties" in root:
        errs.append(
            FieldError(
                "forbidden", f"{path}.additionalProperties", detail="must not be used at the root"
            )
        )
    metadata = (root.get("properties") or {}).get("metadata")
    if isinstance(metadata, dict) and _restricts_metadata(metadata):
        errs.append(
            FieldError(
                "forbidden",
                f"{path}.properties[metadata]",
                detail="must not specify anything other than name and generateName, "
                "but metadata is implicitly specified",
            )
        )
    errs += _node(root, path)
    return errs


def _restricts_metadata(s: Schema) -> bool:
    rest = {k: v for k, v in s.items() if k not in ("type", "default")}
    props = rest.pop("properties", None) or {}
    if set(props) - {"name", "generateName"}:
        return True
    return bool(rest)


def _node(s: Any, path: str) -> list[FieldError]:
    if not isinstance(s, dict):
        return []
    errs: list[FieldError] = []
    if s.get("x-kubernetes-int-or-string") and s.get("x-kubernetes-preserve-unknown-fields"):
        errs.append(
            FieldError(
                "invalid",
                f"{path}.x-kubernetes-preserve-unknown-fields",
                True,
                "must be false if x-kubernetes-int-or-string is true",
            )
        )
    if s.get("x-kubernetes-int-or-string") and s.get("x-kubernetes-embedded-resource"):
        errs.append(
            FieldError(
                "invalid",
                f"{path}.x-kubernetes-embedded-resource",
                True,
                "must be false if x-kubernetes-int-or-string is true",
            )
        )
    if isinstance(s.get("pattern"), str):
        try:
            re.compile(s["pattern"])
        except re.error as e:
            errs.append(
                FieldError(
                    "invalid",
                    f"{path}.pattern",
                    s["pattern"],
                    f"must be a valid regular expression, but isn't: {e}",
                )
            )
    for junctor in _JUNCTORS:
        subs = s.get(junctor) or []
        if junctor == "anyOf" and subs == _INT_OR_STRING_ANY_OF:
            continue
        for i, sub in enumerate(subs):
            errs += _nested(sub, f"{path}.{junctor}[{i}]")
    if isinstance(s.get("not"), dict):
        errs += _nested(s["not"], f"{path}.not")
    for key, sub in (s.get("properties") or {}).items():
        errs += _node(sub, f"{path}.properties[{key}]")
    for key in ("items", "additionalProperties"):
        if isinstance(s.get(key), dict):
            errs += _node(s[key], f"{path}.{key}")
    return errs


def _nested(s: Any, path: str) -> list[FieldError]:
    """A schema under a junctor: value validations only (no types, defaults, extensions)."""
    if not isinstance(s, dict):
        return []
    errs: list[FieldError] = []
    for key, why in _FORBIDDEN_NESTED.items():
        if s.get(key) not in (None, False, "", []):
            errs.append(FieldError("forbidden", f"{path}.{key}", detail=why))
    if "metadata" in (s.get("properties") or {}):
        errs.append(
            FieldError(
                "forbidden",
                f"{path}.properties[metadata]",
                detail="must not be specified in a nested context",
            )
        )
    for key, sub in (s.get("properties") or {}).items():
        errs += _nested(sub, f"{path}.properties[{key}]")
    if isinstance(s.get("items"), dict):
        errs += _nested(s["items"], f"{path}.items")
    for junctor in _JUNCTORS:
        for i, sub in enumerate(s.get(junctor) or []):
            errs += _nested(sub, f"{path}.{junctor}[{i}]")
    return errs
