"""The conformance suite's own test CRD: `widgets.conformance.zenith.example`."""

from __future__ import annotations

from typing import Any

GROUP = "conformance.zenith.example"
VERSION = "v1"
PLURAL = "widgets"
KIND = "Widget"
NAME = f"{PLURAL}.{GROUP}"

_SPEC: dict[str, Any] = {
    "type": "object",
    "required": ["size"],
    "x-kubernetes-validations": [
        {
            "rule": "self.size <= self.maxSize",
            "message": "size must not exceed maxSize",
            "fieldPath": ".size",
        },
        {
            "rule": "!has(self.mode) || self.mode == oldSelf.mode || oldSelf.mode == 'draft'",
            "message": "mode is immutable once set",
            "reason": "FieldValueForbidden",
        },
    ],
    "properties": {
        "size": {"type": "integer", "minimum": 1, "maximum": 10},
        "maxSize": {"type": "integer", "default": 5},
        "color": {"type": "string", "enum": ["red", "green", "blue"]},
        "label": {
            "type": "string",
            "minLength": 2,
            "maxLength": 8,
            "pattern": "^[a-z]+$",
            "x-kubernetes-validations": [
                {
                    "rule": "self != 'reserved'",
                    "messageExpression": "'label ' + self + ' is not allowed'",
                },
            ],
        },
        "port": {"x-kubernetes-int-or-string": True},
        "when": {"type": "string", "format": "date-time"},
        "mode": {"type": "string"},
        "tags": {"type": "array", "minItems": 1, "maxItems": 3, "items": {"type": "string"}},
        "note": {"type": "string", "nullable": True},
        "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "limits": {"type": "object", "additionalProperties": {"type": "integer"}},
        "nested": {
            "type": "object",
            "default": {},
            "properties": {"level": {"type": "string", "default": "info"}},
        },
        "choice": {
            "type": "object",
            "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
            "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
        },
        "ttl": {
            "type": "integer",
            "x-kubernetes-validations": [
                {"rule": "self >= oldSelf", "message": "ttl may only grow"},
            ],
        },
    },
}

WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": NAME},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": PLURAL, "singular": "widget", "kind": KIND, "shortNames": ["wdg"]},
        "versions": [
            {
                "name": VERSION,
                "served": True,
                "storage": True,
                "subresources": {
                    "status": {},
                    "scale": {
                        "specReplicasPath": ".spec.size",
                        "statusReplicasPath": ".status.replicas",
                        "labelSelectorPath": ".status.selector",
                    },
                },
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": _SPEC,
                            "status": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            },
                        },
                    }
                },
            }
        ],
    },
}

# Without a status subresource: status is part of the main resource.
GADGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"gadgets.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Cluster",
        "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
        "versions": [
            {
                "name": VERSION,
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}


def widget(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {"name": name},
        "spec": {"size": 1, **spec},
    }
