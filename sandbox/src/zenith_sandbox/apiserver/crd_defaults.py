"""CRD schema `default`s checked as kube-apiserver checks them on CRD create/update.

apiextensions' `ValidateDefaults` walks the schema; for every `default` it checks, in order:
the default is pruned (`must not have unknown fields`), it validates against its own schema
node (kube-openapi), and only then its CEL rules, evaluated on the default *as written*:
nested defaults are not applied first, so a `default: {}` whose rule reads a defaulted
child fails with `no such key`. Rules run twice, as with CRDValidationRatcheting: once with
`oldSelf` = the default, once as a create (transition rules skipped).
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from . import cel, schema
from .errors import FieldError

Schema = dict[str, Any]
_META = ("apiVersion", "kind", "metadata")


def default_errors(root: Schema, path: str) -> list[FieldError]:
    """Every invalid `default` under the CRD schema `root` (at field path `path`)."""
    return _walk(root, path, at_root=True)


def _walk(s: Any, path: str, at_root: bool = False) -> list[FieldError]:
    if not isinstance(s, dict):
        return []
    errs: list[FieldError] = []
    if "default" in s:
        errs += _check(s, f"{path}.default")
    if isinstance(s.get("items"), dict):
        errs += _walk(s["items"], f"{path}.items")
    for key, sub in (s.get("properties") or {}).items():
        if at_root and key in _META:
            continue  # defaults inside metadata are checked as metadata (not emulated)
        errs += _walk(sub, f"{path}.properties[{key}]")
    # additionalProperties is not followed: defaults are forbidden there.
    return errs


def _check(s: Schema, where: str) -> list[FieldError]:
    value = s["default"]
    errs: list[FieldError] = []
    if pruned(s, copy.deepcopy(value)) != value:
        errs.append(FieldError("invalid", where, value, "must not have unknown fields"))
    value_errs: list[FieldError] = []
    # kube-openapi names fields relative to the default ("<nil> in body" at its root:
    # ` in body should be ...`); the error's field carries the full path.
    schema.validate(without_rules(s), value, "", value_errs)
    if value_errs:
        return errs + [_under(where, e) for e in value_errs]
    # then the CEL rules of the whole default (transition rules see it as their old self)
    cel_errs = cel.validate_tree(s, value, value, True, where)
    if not cel_errs:
        cel_errs = cel.validate_tree(s, value, None, False, where)
    return errs + cel_errs


def _under(where: str, err: FieldError) -> FieldError:
    if not err.field:
        return dataclasses.replace(err, field=where)
    sep = "" if err.field.startswith("[") else "."
    return dataclasses.replace(err, field=f"{where}{sep}{err.field}")


def pruned(s: Any, value: Any) -> Any:
    """`value` without the fields `s` does not declare (no defaulting)."""
    if not isinstance(s, dict):
        return value
    if isinstance(value, list):
        items = s.get("items")
        return [pruned(items, v) for v in value] if isinstance(items, dict) else value
    if not isinstance(value, dict) or s.get("x-kubernetes-embedded-resource"):
        return value
    props = s.get("properties") or {}
    addl = s.get("additionalProperties")
    out: dict[str, Any] = {}
    for key, item in value.items():
        sub = props.get(key) or (addl if isinstance(addl, dict) else None)
        if sub is not None:
            out[key] = pruned(sub, item)
        elif s.get("x-kubernetes-preserve-unknown-fields") or addl is True:
            out[key] = item
    return out


def without_rules(s: Any) -> Any:
    """A copy of schema `s` without `x-kubernetes-validations` (value validation only)."""
    if isinstance(s, list):
        return [without_rules(v) for v in s]
    if not isinstance(s, dict):
        return s
    return {
        k: (v if k in ("default", "enum") else without_rules(v))
        for k, v in s.items()
        if k != "x-kubernetes-validations"
    }
