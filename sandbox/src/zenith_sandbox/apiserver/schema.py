"""CRD structural schemas: pruning, defaulting, validation (kube-openapi wording) and CEL.

Length: pruning, defaulting, validation and CEL share one walk over an object's described
fields and its field paths.
"""

from __future__ import annotations

import base64
import copy
import functools
import re
import uuid
from datetime import datetime
from typing import Any

from . import cel, scale
from .errors import FieldError

NIL = cel.NIL  # how a field.Error without a field path names it
BLOCKING = ("notsupported", "required", "toolong", "toomany", "typeinvalid")
NOT_CHECKED = FieldError(
    "invalid",
    NIL,
    None,
    "some validation rules were not checked because the object was invalid; correct the "
    "existing errors to complete validation",
)

Schema = dict[str, Any]
_SKIP_ROOT = ("apiVersion", "kind", "metadata")


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _num(n: Any) -> str:
    return str(int(n)) if isinstance(n, float) and n.is_integer() else str(n)


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def prune_and_default(
    s: Schema, value: Any, path: str, unknown: list[str], root: bool = False
) -> Any:
    """Drop fields the schema does not know, drop non-nullable nulls, apply defaults."""
    if isinstance(value, list):
        items = s.get("items")
        if isinstance(items, dict):
            return [
                prune_and_default(items, v, f"{path}[{i}]", unknown) for i, v in enumerate(value)
            ]
        return value
    if not isinstance(value, dict) or (
        s.get("x-kubernetes-embedded-resource") and not s.get("properties")
    ):
        return value
    props: dict[str, Schema] | None = s.get("properties")
    addl = s.get("additionalProperties")
    preserve = s.get("x-kubernetes-preserve-unknown-fields")
    for key in list(value):
        if root and key in _SKIP_ROOT:
            continue
        sub = props.get(key) if props else None
        if sub is None and isinstance(addl, dict):
            sub = addl
        if sub is None:
            if not preserve and addl is not True:
                unknown.append(_child(path, key))
                del value[key]
            continue
        if value[key] is None and not sub.get("nullable"):
            del value[key]
            continue
        value[key] = prune_and_default(sub, value[key], _child(path, key), unknown)
    for key, sub in (props or {}).items():
        if key not in value and "default" in sub and not (root and key in _SKIP_ROOT):
            value[key] = prune_and_default(
                sub, copy.deepcopy(sub["default"]), _child(path, key), []
            )
    return value


_FORMATS = {
    "date-time": lambda v: bool(
        re.match(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$", v)
    ),
    "date": lambda v: bool(re.match(r"^\d{4}-\d{2}-\d{2}$", v)) and _parses_date(v),
    "uuid": lambda v: _is_uuid(v),
    "byte": lambda v: _is_b64(v),
}


def _parses_date(v: str) -> bool:
    try:
        datetime.strptime(v, "%Y-%m-%d")
    except ValueError:
        return False
    return True


def _is_uuid(v: str) -> bool:
    try:
        uuid.UUID(v)
    except ValueError:
        return False
    return True


def _is_b64(v: str) -> bool:
    try:
        base64.b64decode(v, validate=True)
    except ValueError:
        return False
    return True


def _type_ok(t: str, value: Any) -> bool:
    if t == "object":
        return isinstance(value, dict)
    if t == "array":
        return isinstance(value, list)
    if t == "string":
        return isinstance(value, str)
    if t == "boolean":
        return isinstance(value, bool)
    if t == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if t == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return True


def validate(
    s: Schema,
    value: Any,
    path: str,
    errs: list[FieldError],
    old: Any = None,
    has_old: bool = False,
    root: bool = False,
) -> None:
    """Validate `value` against `s`, appending kube-apiserver-worded field errors."""
    if value is None:
        if not s.get("nullable") and s.get("type"):
            errs.append(
                FieldError(
                    "typeinvalid",
                    path,
                    "null",
                    f'{path} in body must be of type {s["type"]}: "null"',
                )
            )
        return
    t = s.get("type")
    if s.get("x-kubernetes-int-or-string"):
        if not isinstance(value, int | str) or isinstance(value, bool):
            actual = _type_of(value)
            errs.append(
                FieldError(
                    "typeinvalid",
                    path,
                    actual,
                    f'{path} in body must be of type integer,string: "{actual}"',
                )
            )
            return
    elif t and not _type_ok(t, value):
        actual = _type_of(value)
        errs.append(
            FieldError(
                "typeinvalid", path, actual, f'{path} in body must be of type {t}: "{actual}"'
            )
        )
        return
    _validate_composition(s, value, path, errs)
    if isinstance(value, str):
        _validate_string(s, value, path, errs)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        _validate_number(s, value, path, errs)
    elif isinstance(value, list):
        _validate_array(s, value, path, errs, old if has_old else None)
    if "enum" in s and value not in s["enum"]:
        supported = ", ".join(f'"{v}"' if isinstance(v, str) else f'"{_num(v)}"' for v in s["enum"])
        errs.append(FieldError("notsupported", path, value, f"supported values: {supported}"))
    if isinstance(value, dict):
        _validate_object(s, value, path, errs, old, has_old, root)


def _fails(s: Schema, value: Any, path: str) -> bool:
    sub: list[FieldError] = []
    validate(s, value, path, sub)
    return bool(sub)


def _fewest_errors(subs: list[Schema], value: Any, path: str) -> list[FieldError]:
    """The errors of the failing alternative that fails least (kube-openapi keeps the
    alternative with the most successful checks)."""
    results = []
    for sub in subs:
        found: list[FieldError] = []
        validate(sub, value, path, found)
        if found:
            results.append(found)
    return min(results, key=len) if results else []


def _composite(message: str) -> FieldError:
    """kube-openapi's composite errors are not field errors: `<nil>: Invalid value: "": ...`."""
    return FieldError("invalid", NIL, "", message)


def _validate_composition(s: Schema, value: Any, path: str, errs: list[FieldError]) -> None:
    """anyOf/oneOf/allOf/not, in kube-openapi's order and wording."""
    name = path or "."
    any_of = s.get("anyOf")
    if any_of and all(_fails(sub, value, path) for sub in any_of):
        errs.append(_composite(f'"{name}" must validate at least one schema (anyOf)'))
        errs += _fewest_errors(any_of, value, path)
    if one_of := s.get("oneOf"):
        passing = sum(not _fails(sub, value, path) for sub in one_of)
        if passing != 1:
            found = "Found none valid" if passing == 0 else f"Found {passing} valid alternatives"
            errs.append(
                _composite(f'"{name}" must validate one and only one schema (oneOf). {found}')
            )
            if passing == 0:
                errs += _fewest_errors(one_of, value, path)
    if all_of := s.get("allOf"):
        failed = 0
        for sub in all_of:
            before = len(errs)
            validate(sub, value, path, errs)
            failed += len(errs) > before
        if failed:
            none = ". None validated" if failed == len(all_of) else ""
            errs.append(_composite(f'"{name}" must validate all the schemas (allOf){none}'))
    if "not" in s and not _fails(s["not"], value, path):
        errs.append(_composite(f'"{name}" must not validate the schema (not)'))


def _validate_string(s: Schema, value: str, path: str, errs: list[FieldError]) -> None:
    """kube-openapi's string validator reports the first of maxLength, minLength, pattern;
    the format validator runs after it."""
    if "maxLength" in s and len(value) > s["maxLength"]:
        n = s["maxLength"]
        errs.append(
            FieldError("toolong", path, value, f"may not be more than {n} {_plural(n, 'byte')}")
        )
    elif "minLength" in s and len(value) < s["minLength"]:
        errs.append(
            FieldError(
                "invalid",
                path,
                value,
                f"{path} in body should be at least {s['minLength']} chars long",
            )
        )
    elif "pattern" in s and not go_regex(s["pattern"]).search(value):
        errs.append(
            FieldError("invalid", path, value, f"{path} in body should match '{s['pattern']}'")
        )
    fmt = s.get("format")
    if fmt in _FORMATS and not _FORMATS[fmt](value):
        errs.append(
            FieldError(
                "typeinvalid", path, value, f'{path} in body must be of type {fmt}: "{value}"'
            )
        )


def _plural(n: int, word: str) -> str:
    return word if n == 1 else f"{word}s"


@functools.lru_cache(maxsize=256)
def go_regex(pattern: str) -> re.Pattern[str]:
    """`pattern` with Go (RE2) semantics for `$`: the end of the text only. Python's `$`
    also matches before a final newline, so "img\\n" would pass `^\\S+$`."""
    out, escaped, in_class = [], False, False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "$":
            out.append(r"\Z")
            continue
        out.append(ch)
    return re.compile("".join(out))


def _validate_number(s: Schema, value: float, path: str, errs: list[FieldError]) -> None:
    if "minimum" in s:
        lo = s["minimum"]
        if s.get("exclusiveMinimum") and value <= lo:
            errs.append(
                FieldError(
                    "invalid", path, value, f"{path} in body should be greater than {_num(lo)}"
                )
            )
        elif value < lo:
            errs.append(
                FieldError(
                    "invalid",
                    path,
                    value,
                    f"{path} in body should be greater than or equal to {_num(lo)}",
                )
            )
    if "maximum" in s:
        hi = s["maximum"]
        if s.get("exclusiveMaximum") and value >= hi:
            errs.append(
                FieldError("invalid", path, value, f"{path} in body should be less than {_num(hi)}")
            )
        elif value > hi:
            errs.append(
                FieldError(
                    "invalid",
                    path,
                    value,
                    f"{path} in body should be less than or equal to {_num(hi)}",
                )
            )
    if "multipleOf" in s and s["multipleOf"] and value % s["multipleOf"] != 0:
        errs.append(
            FieldError(
                "invalid",
                path,
                value,
                f"{path} in body should be a multiple of {_num(s['multipleOf'])}",
            )
        )


def _validate_array(
    s: Schema, value: list[Any], path: str, errs: list[FieldError], old: Any
) -> None:
    if "minItems" in s and len(value) < s["minItems"]:
        errs.append(
            FieldError(
                "invalid",
                path,
                len(value),
                f"{path} in body should have at least {s['minItems']} items",
            )
        )
    if "maxItems" in s and len(value) > s["maxItems"]:
        errs.append(
            FieldError(
                "toomany",
                path,
                len(value),
                f"must have at most {s['maxItems']} {_plural(s['maxItems'], 'item')}",
            )
        )
    list_type = s.get("x-kubernetes-list-type")
    keys = s.get("x-kubernetes-list-map-keys") or []
    seen: list[Any] = []
    old_by_key: dict[str, Any] = {}
    if list_type == "map" and isinstance(old, list):
        old_by_key = {repr([o.get(k) for k in keys]): o for o in old if isinstance(o, dict)}
    items: Schema = s["items"] if isinstance(s.get("items"), dict) else {}
    for i, item in enumerate(value):
        ident = (
            [item.get(k) for k in keys] if list_type == "map" and isinstance(item, dict) else item
        )
        if list_type in ("set", "map") or s.get("uniqueItems"):
            if ident in seen:
                errs.append(FieldError("duplicate", f"{path}[{i}]", item))
            seen.append(ident)
        prev = old_by_key.get(repr(ident)) if list_type == "map" else None
        validate(items, item, f"{path}[{i}]", errs, prev, prev is not None)


def _validate_object(
    s: Schema,
    value: dict[str, Any],
    path: str,
    errs: list[FieldError],
    old: Any,
    has_old: bool,
    root: bool,
) -> None:
    for key in s.get("required") or []:
        if key not in value:
            errs.append(FieldError("required", _child(path, key)))
    if "minProperties" in s and len(value) < s["minProperties"]:
        errs.append(
            FieldError(
                "invalid",
                path,
                len(value),
                f"{path} in body should have at least {s['minProperties']} properties",
            )
        )
    if "maxProperties" in s and len(value) > s["maxProperties"]:
        errs.append(
            FieldError(
                "toomany",
                path,
                len(value),
                f"must have at most {s['maxProperties']} {_plural(s['maxProperties'], 'item')}",
            )
        )
    for key, sub, item, old_item, had in cel.object_children(s, value, old, has_old, root):
        validate(sub, item, _child(path, key), errs, old_item, had)


def process(
    schema: Schema,
    obj: dict[str, Any],
    old: dict[str, Any] | None,
    scale_paths: tuple[str, str, str] | None = None,
) -> tuple[list[FieldError], list[str]]:
    """Prune, default and validate a custom resource; returns (errors, pruned field paths).

    As apiextensions' strategy: the schema's errors, the scale subresource's accessors,
    then the x-kubernetes-validations rules of the whole object, unless an earlier error
    is a blocking one (type, enum, required, too long, too many): then one `<nil>` error
    says the rules were not checked. Other value errors do not stop the rules."""
    unknown: list[str] = []
    prune_and_default(schema, obj, "", unknown, root=True)
    errs: list[FieldError] = []
    validate(schema, obj, "", errs, old, old is not None, root=True)
    if scale_paths is not None:
        errs += scale.validation_errors(obj, scale_paths)
    if cel.has_rules(schema):
        if any(e.type in BLOCKING for e in errs):
            errs.append(NOT_CHECKED)
        else:
            errs += cel.validate_tree(schema, obj, old, old is not None, "", root=True)
    return errs, unknown
