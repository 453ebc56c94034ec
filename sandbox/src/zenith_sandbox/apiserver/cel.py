"""x-kubernetes-validations rules, evaluated with cel-python (`celpy`) and the Kubernetes
quantity library (celquantity.py)."""

from __future__ import annotations

import contextlib
import re
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import celpy
from celpy.adapter import json_to_cel

from .celquantity import FUNCTIONS
from .errors import OMIT, FieldError

NIL = "<nil>"

_REASONS = {
    "FieldValueInvalid": "invalid",
    "FieldValueForbidden": "forbidden",
    "FieldValueRequired": "required",
    "FieldValueDuplicate": "duplicate",
}
_ENV = celpy.Environment()
_CACHE: OrderedDict[str, Any] = OrderedDict()
_CACHE_SIZE = 512


def program(rule: str) -> Any:
    """Compiled program for `rule` (bounded LRU cache); raises on compile errors."""
    prog = _CACHE.get(rule)
    if prog is None:
        prog = _ENV.program(_ENV.compile(rule), functions=FUNCTIONS)
        _CACHE[rule] = prog
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(rule)
    return prog


def parse(rule: str) -> Any:
    """The parse tree (lark) of `rule`; raises on syntax errors."""
    return _ENV.compile(rule)


def compile_error(rule: str) -> str | None:
    try:
        program(rule)
    except Exception as e:  # celpy raises several error types
        return str(e)
    return None


def go_error(e: Exception) -> str:
    """A cel-python evaluation error in cel-go's words (`no such key: x`, ...).

    cel-python wraps an error inside an operator's arguments in a "no matching overload"
    error; cel-go passes the first error through, so the innermost one is reported.
    """
    text = repr(e)
    if match := re.search(r"no such member in mapping: [\\']*([^\\']*)", text):
        return f"no such key: {match.group(1)}"
    if match := re.search(r"KeyError'>, \(StringType\('([^']*)'\)", text):
        return f"no such key: {match.group(1)}"
    for cause, wording in (
        ("IndexError", "index out of range"),
        ("ZeroDivisionError", "division by zero"),
        ("overflow", "integer overflow"),
    ):
        if cause in text:
            return wording
    if "TypeError" in text:
        return "no such overload"
    return str(e)


def rule_error_string(rule: dict[str, Any]) -> str:
    """What a runtime error names: the rule's message, else the rule (ruleErrorString)."""
    return str(rule.get("message") or "").strip() or str(rule.get("rule", "")).strip()


def runtime_error(e: Exception, rule: dict[str, Any]) -> str:
    """kube-apiserver's detail for a rule that failed to evaluate."""
    err = go_error(e)
    if err.startswith("no such overload"):
        return (
            f"'{err}': call arguments did not match a supported operator, function or macro "
            f"signature for rule: {rule_error_string(rule)}"
        )
    return f"{err} evaluating rule: {rule_error_string(rule)}"


def is_transition(rule: str) -> bool:
    return "oldSelf" in rule


def _join(path: str, field_path: str) -> str:
    field_path = field_path.lstrip(".")
    if not field_path:
        return path
    return f"{path}.{field_path}" if path else field_path


def has_rules(schema: Any) -> bool:
    """Whether any node of the schema has x-kubernetes-validations (else no CEL validator)."""
    if isinstance(schema, dict):
        if schema.get("x-kubernetes-validations"):
            return True
        return any(has_rules(v) for v in schema.values())
    if isinstance(schema, list):
        return any(has_rules(v) for v in schema)
    return False


def object_children(
    schema: dict[str, Any], value: dict[str, Any], old: Any, has_old: bool, root: bool
) -> Iterator[tuple[str, dict[str, Any], Any, Any, bool]]:
    """(key, its schema, value, old value, whether it had one) for each field of an
    object that its schema describes (properties, else additionalProperties)."""
    props = schema.get("properties") or {}
    addl = schema.get("additionalProperties")
    old_map = old if has_old and isinstance(old, dict) else {}
    for key, item in value.items():
        if root and key in ("apiVersion", "kind", "metadata"):
            continue
        sub = props.get(key) or (addl if isinstance(addl, dict) else None)
        if sub is not None:
            yield key, sub, item, old_map.get(key), key in old_map


def validate_tree(
    schema: dict[str, Any], value: Any, old: Any, has_old: bool, path: str, root: bool = False
) -> list[FieldError]:
    """The CEL validator's walk: this node's rules, its allOf schemas', then the children
    (properties, additionalProperties, items; old values correlate by key and, for
    `x-kubernetes-list-type: map`, by the map keys)."""
    if value is None:
        return []
    errs: list[FieldError] = []
    evaluate(schema, value, old, has_old, path, errs)
    for sub in schema.get("allOf") or []:
        if isinstance(sub, dict):
            errs += validate_tree(sub, value, old, has_old, path)
    if isinstance(value, dict):
        for key, sub, item, old_item, had in object_children(schema, value, old, has_old, root):
            child = f"{path}.{key}" if path else key
            errs += validate_tree(sub, item, old_item, had, child)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        keys = schema.get("x-kubernetes-list-map-keys") or []
        old_by_key: dict[str, Any] = {}
        if schema.get("x-kubernetes-list-type") == "map" and isinstance(old, list):
            old_by_key = {repr([o.get(k) for k in keys]): o for o in old if isinstance(o, dict)}
        for i, item in enumerate(value):
            ident = repr([item.get(k) for k in keys]) if isinstance(item, dict) else ""
            prev = old_by_key.get(ident)
            errs += validate_tree(schema["items"], item, prev, prev is not None, f"{path}[{i}]")
    return errs


def evaluate(
    schema: dict[str, Any], value: Any, old: Any, has_old: bool, path: str, errs: list[FieldError]
) -> None:
    """Append a FieldError per failing rule of this schema node, worded as kube-apiserver
    1.36: the value for scalars, no value for objects and arrays, the type name when the
    rule cannot be evaluated."""
    rules = schema.get("x-kubernetes-validations") or []
    type_name = schema.get("type", "")
    shown: Any = OMIT if type_name in ("object", "array") else value
    for rule in rules:
        expr = rule.get("rule", "")
        if is_transition(expr) and not has_old:
            continue
        activation: dict[str, Any] = {"self": json_to_cel(value)}
        if has_old:
            activation["oldSelf"] = json_to_cel(old)
        where = path or NIL
        try:
            ok = program(expr).evaluate(activation)
        except Exception as e:
            # kube-apiserver reports runtime errors at the rule's schema node, not fieldPath.
            errs.append(FieldError("invalid", path or "<nil>", type_name, runtime_error(e, rule)))
            continue
        if isinstance(ok, celpy.celtypes.BoolType) and bool(ok):
            continue
        if not isinstance(ok, celpy.celtypes.BoolType | bool):
            errs.append(FieldError("invalid", where, type_name, f"{ok} evaluating rule: {expr}"))
            continue
        message = rule.get("message") or f"failed rule: {expr}"
        if rule.get("messageExpression"):
            with contextlib.suppress(Exception):
                message = str(program(rule["messageExpression"]).evaluate(activation))
        kind = _REASONS.get(rule.get("reason", ""), "invalid")
        at = _join(path, rule.get("fieldPath", "")) or NIL
        errs.append(FieldError(kind, at, shown, "" if kind == "duplicate" else message))
