"""x-kubernetes-validations rules, evaluated with cel-python (`celpy`)."""

from __future__ import annotations

import contextlib
import re
from collections import OrderedDict
from typing import Any

import celpy
from celpy.adapter import json_to_cel

from .errors import FieldError

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
        prog = _ENV.program(_ENV.compile(rule))
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


def evaluate(
    schema: dict[str, Any], value: Any, old: Any, has_old: bool, path: str, errs: list[FieldError]
) -> None:
    """Append a FieldError per failing rule of this schema node."""
    rules = schema.get("x-kubernetes-validations") or []
    type_name = schema.get("type", "object")
    for rule in rules:
        expr = rule.get("rule", "")
        if is_transition(expr) and not has_old:
            continue
        activation: dict[str, Any] = {"self": json_to_cel(value)}
        if has_old:
            activation["oldSelf"] = json_to_cel(old)
        where = _join(path, rule.get("fieldPath", "")) or "<nil>"
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
        errs.append(FieldError(kind, where, type_name, message))
