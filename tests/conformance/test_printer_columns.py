"""additionalPrinterColumns cells as kube-apiserver's JSONPath printer fills them (1.36):
a missing field is a null cell (kubectl prints `<none>`), a stored null in a string column
is the text `<no value>`, objects in a string column are compact JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client import ApiClient

from .conftest import _ensure_crd, poll

GROUP = "conformance.zenith.example"
PLURAL = "printers"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
PRINTER_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"{PLURAL}.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": PLURAL, "kind": "Printer"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "additionalPrinterColumns": [
                    {"name": "Text", "type": "string", "jsonPath": ".status.text"},
                    {"name": "Plain", "type": "string", "jsonPath": ".status.plain"},
                    {"name": "Count", "type": "integer", "jsonPath": ".spec.count"},
                    {"name": "Obj", "type": "string", "jsonPath": ".spec.obj"},
                ],
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "count": {"type": "integer"},
                                    "obj": {
                                        "type": "object",
                                        "x-kubernetes-preserve-unknown-fields": True,
                                    },
                                },
                            },
                            "status": {
                                "type": "object",
                                "properties": {
                                    "text": {"type": "string", "nullable": True},
                                    "plain": {"type": "string"},
                                },
                            },
                        },
                    }
                },
            }
        ],
    },
}


@pytest.fixture
def printers(api_client: ApiClient) -> None:
    _ensure_crd(api_client, PRINTER_CRD)


def _row(api_client: ApiClient, ns: str, body: dict[str, Any]) -> list[Any]:
    custom = client.CustomObjectsApi(api_client)
    obj = {"apiVersion": f"{GROUP}/v1", "kind": "Printer", "metadata": {"name": "x"}, **body}

    def created() -> bool:
        try:
            custom.create_namespaced_custom_object(GROUP, "v1", ns, PLURAL, obj)
        except client.ApiException as e:
            if e.status == 404:  # a real server serves a new CRD shortly after Established
                return False
            raise
        return True

    poll(created, what="the new resource to be served")
    method, url, headers, _, _ = api_client.param_serialize(
        "GET",
        f"/apis/{GROUP}/v1/namespaces/{ns}/{PLURAL}/x",
        header_params={"Accept": TABLE},
        auth_settings=["BearerToken"],
    )
    resp = api_client.call_api(method, url, header_params=headers)
    resp.read()
    table = json.loads(resp.data)
    assert [c["name"] for c in table["columnDefinitions"]][:5] == [
        "Name",
        "Text",
        "Plain",
        "Count",
        "Obj",
    ]
    cells: list[Any] = table["rows"][0]["cells"]
    return cells[1:5]


@pytest.mark.usefixtures("printers")
@pytest.mark.parametrize(
    ("body", "cells"),
    [
        ({}, [None, None, None, None]),
        ({"status": {"text": None, "plain": None}}, ["<no value>", None, None, None]),
        (
            {"spec": {"count": 3, "obj": {"a": [1, "b"]}}, "status": {"text": "t", "plain": "p"}},
            ["t", "p", 3, '{"a":[1,"b"]}'],
        ),
    ],
)
def test_printer_column_cells(
    api_client: ApiClient, ns: str, body: dict[str, Any], cells: list[Any]
) -> None:
    assert _row(api_client, ns, body) == cells
