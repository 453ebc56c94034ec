"""metav1.Status error bodies, worded as kube-apiserver words them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .resources import ResourceType

# field.ErrorType -> (display string, StatusCause reason)
_TYPES = {
    "invalid": ("Invalid value", "FieldValueInvalid"),
    "typeinvalid": ("Invalid value", "FieldValueTypeInvalid"),
    "required": ("Required value", "FieldValueRequired"),
    "notsupported": ("Unsupported value", "FieldValueNotSupported"),
    "forbidden": ("Forbidden", "FieldValueForbidden"),
    "duplicate": ("Duplicate value", "FieldValueDuplicate"),
    "toolong": ("Too long", "FieldValueTooLong"),
    "toomany": ("Too many", "FieldValueTooMany"),
    "notfound": ("Not found", "FieldValueNotFound"),
}
_NO_VALUE = {"required", "forbidden", "toolong"}
OMIT = object()  # field.OmitValueType: the value is not printed (CEL rules on objects)


class GoStruct(dict[str, Any]):
    """A Go struct to print: json.Marshal writes its fields in declaration order."""


def go_value(value: Any) -> str:
    """Format a bad value as field.Error.ErrorBody does (1.36): %v for numbers and booleans,
    %q for strings, JSON for everything else (null, maps, slices)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) and not value.is_integer() else str(value)
    return go_json(value)


def go_json(value: Any) -> str:
    """Go's json.Marshal: compact, UTF-8, with <, > and & escaped; map keys sorted, a
    `GoStruct` keeps its field order."""
    ordered = isinstance(value, GoStruct)
    text = json.dumps(value, separators=(",", ":"), sort_keys=not ordered, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@dataclass(frozen=True)
class FieldError:
    """One `field.Error`: type, JSON path (`spec.x`), bad value, detail."""

    type: str
    field: str
    value: Any = None
    detail: str = ""

    def body(self) -> str:
        text, _ = _TYPES[self.type]
        omit = self.type in _NO_VALUE or self.value is OMIT
        s = text if omit else f"{text}: {go_value(self.value)}"
        return f"{s}: {self.detail}" if self.detail else s

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}" if self.field else self.body()

    def cause(self) -> dict[str, Any]:
        return {"reason": _TYPES[self.type][1], "message": self.body(), "field": self.field}


class ApiError(Exception):
    """An error answered as a metav1.Status body with its HTTP code."""

    def __init__(
        self, code: int, reason: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        }
        if self.reason:
            body["reason"] = self.reason
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _details(rt: ResourceType, name: str, kind: str | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {"name": name} if name else {}
    if rt.group:
        d["group"] = rt.group
    d["kind"] = kind or rt.plural
    return d


def not_found(rt: ResourceType, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{rt.qualified} "{name}" not found', _details(rt, name))


def already_exists(rt: ResourceType, name: str) -> ApiError:
    msg = f'{rt.qualified} "{name}" already exists'
    return ApiError(409, "AlreadyExists", msg, _details(rt, name))


def conflict(rt: ResourceType, name: str, why: str = "") -> ApiError:
    why = why or (
        "the object has been modified; please apply your changes to the latest version and "
        "try again"
    )
    msg = f'Operation cannot be fulfilled on {rt.qualified} "{name}": {why}'
    return ApiError(409, "Conflict", msg, _details(rt, name))


def conflict_on_kind(rt: ResourceType, name: str, why: str) -> ApiError:
    """A Conflict on the GroupResource{group, Kind} (rest.BeforeDelete's preconditions)."""
    on = f"{rt.kind}.{rt.group}" if rt.group else rt.kind
    msg = f'Operation cannot be fulfilled on {on} "{name}": {why}'
    return ApiError(409, "Conflict", msg, _details(rt, name, rt.kind))


def invalid(rt: ResourceType, name: str, errors: list[FieldError]) -> ApiError:
    kind = f"{rt.kind}.{rt.group}" if rt.group else rt.kind
    agg = str(errors[0]) if len(errors) == 1 else "[" + ", ".join(map(str, errors)) + "]"
    details = _details(rt, name, rt.kind)
    details["causes"] = [e.cause() for e in errors]
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {agg}', details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def forbidden_terminating(rt: ResourceType, name: str, namespace: str) -> ApiError:
    msg = (
        f'{rt.qualified} "{name}" is forbidden: unable to create new content in namespace '
        f"{namespace} because it is being terminated"
    )
    details = _details(rt, name)
    details["causes"] = [
        {
            "reason": "NamespaceTerminating",
            "message": f"namespace {namespace} is being terminated",
            "field": "metadata.namespace",
        }
    ]
    return ApiError(403, "Forbidden", msg, details)


def method_not_allowed() -> ApiError:
    return ApiError(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
    )


def unsupported_media(content_type: str, supported: list[str]) -> ApiError:
    msg = (
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(supported)
    )
    del content_type
    return ApiError(415, "UnsupportedMediaType", msg)


def protobuf_unsupported() -> ApiError:
    """kubectl sends protobuf for `create configmap|secret|...`: say what works instead."""
    msg = (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json, application/yaml (this sandbox API server does not speak "
        "protobuf; instead of `kubectl create configmap|secret ...` pipe the manifest "
        "through apply: `kubectl create configmap NAME --from-literal=k=v --dry-run=client "
        "-o yaml | kubectl apply -f -`)"
    )
    return ApiError(415, "UnsupportedMediaType", msg)


def path_not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def expired(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def apply_needs_field_manager() -> ApiError:
    cause = {
        "reason": "FieldValueRequired",
        "message": "Required value: is required for apply patch",
        "field": "fieldManager",
    }
    return ApiError(
        422,
        "Invalid",
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required '
        "for apply patch",
        {"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [cause]},
    )
