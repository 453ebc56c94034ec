"""CRD create checks kube-apiserver makes on the schema itself: every `default` against its
schema and CEL rules (nested defaults NOT applied first), structural rules, CEL compilation
and the CEL cost estimate. Wording is kube-apiserver 1.36's (checked on a real v1.36.2).
Every CRD here is POSTed with dryRun=All, so nothing is stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from kubernetes.client import ApiClient

from .conftest import raw

GROUP = "defaults.conformance.zenith.example"
ROOT = "spec.validation.openAPIV3Schema"
CRD_FILE = Path(__file__).resolve().parents[2] / "deploy/crds/zenithclusters.huawei.cloudb.com.yaml"
COST = (
    "estimated rule cost exceeds budget by factor of more than 100x (try simplifying the rule, "
    "or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are "
    "declared)"
)


def _crd(spec_schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"things.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": "things", "kind": "Thing"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {"type": "object", "properties": {"spec": spec_schema}}
                    },
                }
            ],
        },
    }


def _dry_run(api_client: ApiClient, body: dict[str, Any]) -> tuple[int, Any]:
    return raw(
        api_client,
        "POST",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        body,
        query={"dryRun": "All"},
    )


def _causes(api_client: ApiClient, spec_schema: dict[str, Any]) -> list[str]:
    status, res = _dry_run(api_client, _crd(spec_schema))
    assert status == 422, res
    assert res["reason"] == "Invalid"
    return [f"{c['field']}: {c['message']}" for c in res["details"]["causes"]]


_TIMING = {
    "type": "object",
    "properties": {
        "poll": {"type": "integer", "default": 10},
        "timeout": {"type": "integer", "default": 30},
    },
    "x-kubernetes-validations": [
        {"rule": "self.timeout > self.poll", "message": "timeout must exceed poll"}
    ],
}


def test_the_products_crd_is_accepted(api_client: ApiClient) -> None:
    body = yaml.safe_load(CRD_FILE.read_text())
    # under a group of ours: the product's CRD may already be installed (POST -> 409)
    body["spec"]["group"] = GROUP
    body["metadata"]["name"] = f"{body['spec']['names']['plural']}.{GROUP}"
    status, res = _dry_run(api_client, body)
    assert status == 201, res


def test_an_empty_default_is_checked_without_nested_defaults(api_client: ApiClient) -> None:
    spec = {"type": "object", "properties": {"timing": {**_TIMING, "default": {}}}}
    assert _causes(api_client, spec) == [
        f'{ROOT}.properties[spec].properties[timing].default: Invalid value: "object": '
        "no such key: timeout evaluating rule: timeout must exceed poll"
    ]


def test_a_complete_default_is_accepted(api_client: ApiClient) -> None:
    spec = {
        "type": "object",
        "properties": {"timing": {**_TIMING, "default": {"poll": 10, "timeout": 30}}},
    }
    status, res = _dry_run(api_client, _crd(spec))
    assert status == 201, res


def test_a_default_that_breaks_its_rule(api_client: ApiClient) -> None:
    spec = {
        "type": "object",
        "properties": {"timing": {**_TIMING, "default": {"poll": 30, "timeout": 10}}},
    }
    # The value part of a failed object rule's message is CEL wording that
    # test_crd_validation.py checks (1.36 prints no value for objects).
    status, res = _dry_run(api_client, _crd(spec))
    assert status == 422, res
    [cause] = res["details"]["causes"]
    assert cause["field"] == f"{ROOT}.properties[spec].properties[timing].default"
    assert cause["reason"] == "FieldValueInvalid"
    assert cause["message"].endswith(": timeout must exceed poll")


def test_a_default_is_validated_against_its_schema(api_client: ApiClient) -> None:
    spec = {
        "type": "object",
        "properties": {"size": {"type": "integer", "maximum": 5, "default": 7}},
    }
    path = f"{ROOT}.properties[spec].properties[size].default"
    # kube-openapi names the field relative to the default: nothing at its root
    assert _causes(api_client, spec) == [
        f"{path}: Invalid value: 7:  in body should be less than or equal to 5"
    ]


def test_a_default_must_be_pruned(api_client: ApiClient) -> None:
    spec = {
        "type": "object",
        "properties": {
            "ports": {
                "type": "object",
                "properties": {"a": {"type": "integer"}},
                "default": {"a": 1, "b": 2},
            }
        },
    }
    assert _causes(api_client, spec) == [
        f'{ROOT}.properties[spec].properties[ports].default: Invalid value: {{"a":1,"b":2}}: '
        "must not have unknown fields"
    ]


def test_a_rule_on_an_undeclared_field_does_not_compile(api_client: ApiClient) -> None:
    spec = {
        "type": "object",
        "properties": {"a": {"type": "integer"}},
        "x-kubernetes-validations": [{"rule": "self.b > 1"}],
    }
    assert _causes(api_client, spec) == [
        f"{ROOT}.properties[spec].x-kubernetes-validations[0].rule: Invalid value: "
        '{"Rule":"self.b \\u003e 1","Message":"","MessageExpression":"","Reason":null,'
        '"FieldPath":"","OptionalOldSelf":null}: '
        "compilation failed: ERROR: <input>:1:5: undefined field 'b'\n | self.b > 1\n | ....^"
    ]


def test_an_unbounded_quadratic_rule_is_too_expensive(api_client: ApiClient) -> None:
    spec = {
        "type": "object",
        "properties": {
            "names": {
                "type": "array",
                "items": {"type": "string"},
                "x-kubernetes-validations": [{"rule": "self.all(x, self.exists(y, x == y))"}],
            }
        },
    }
    rule = f"{ROOT}.properties[spec].properties[names].x-kubernetes-validations[0].rule"
    assert f"{rule}: Forbidden: {COST}" in _causes(api_client, spec)


def test_bounds_make_the_same_rule_affordable(api_client: ApiClient) -> None:
    spec = {
        "type": "object",
        "properties": {
            "names": {
                "type": "array",
                "maxItems": 100,
                "items": {"type": "string", "maxLength": 64},
                "x-kubernetes-validations": [{"rule": "self.all(x, self.exists(y, x == y))"}],
            }
        },
    }
    status, res = _dry_run(api_client, _crd(spec))
    assert status == 201, res


def test_a_regex_on_unbounded_strings_in_an_unbounded_list(api_client: ApiClient) -> None:
    spec = {
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"s": {"type": "string"}},
                    "x-kubernetes-validations": [{"rule": "self.s.matches('^[a-z]+$')"}],
                },
            }
        },
    }
    rule = f"{ROOT}.properties[spec].properties[items].items.x-kubernetes-validations[0].rule"
    assert f"{rule}: Forbidden: {COST}" in _causes(api_client, spec)


def test_structural_rules_of_value_validations(api_client: ApiClient) -> None:
    spec = {
        "type": "object",
        "properties": {"x": {"type": "string", "anyOf": [{"type": "string", "minLength": 1}]}},
    }
    assert _causes(api_client, spec) == [
        f"{ROOT}.properties[spec].properties[x].anyOf[0].type: Forbidden: "
        "must be empty to be structural"
    ]


def test_root_metadata_may_only_restrict_name(api_client: ApiClient) -> None:
    body = _crd({"type": "object"})
    schema = body["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    schema["properties"]["metadata"] = {
        "type": "object",
        "properties": {"labels": {"type": "object"}},
    }
    status, res = _dry_run(api_client, body)
    assert status == 422, res
    assert [f"{c['field']}: {c['message']}" for c in res["details"]["causes"]] == [
        f"{ROOT}.properties[metadata]: Forbidden: must not specify anything other than name "
        "and generateName, but metadata is implicitly specified"
    ]


def test_old_self_is_refused_inside_plain_lists(api_client: ApiClient) -> None:
    spec = {
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "items": {
                    "type": "string",
                    "maxLength": 10,
                    "x-kubernetes-validations": [{"rule": "self == oldSelf"}],
                },
                "maxItems": 10,
            }
        },
    }
    list_path = f"{ROOT}.properties[spec].properties[items]"
    assert _causes(api_client, spec) == [
        f'{list_path}.items.x-kubernetes-validations[0].rule: Invalid value: "self == oldSelf": '
        f"oldSelf cannot be used on the uncorrelatable portion of the schema within {list_path}"
    ]
