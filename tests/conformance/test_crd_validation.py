"""Custom resources checked against the CRD's openAPIV3Schema and x-kubernetes-validations."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes.client import ApiClient

from .conftest import raw
from .widget_crd import GROUP, PLURAL, VERSION, widget

pytestmark = pytest.mark.usefixtures("widgets")


def _create(api_client: ApiClient, ns: str, **spec: Any) -> tuple[int, Any]:
    return raw(
        api_client, "POST", f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/{PLURAL}", widget("w", **spec)
    )


def _message(api_client: ApiClient, ns: str, **spec: Any) -> str:
    status, body = _create(api_client, ns, **spec)
    assert status == 422, body
    assert body["reason"] == "Invalid"
    assert body["details"]["group"] == GROUP and body["details"]["kind"] == "Widget"
    message: str = body["message"]
    assert message.startswith('Widget.conformance.zenith.example "w" is invalid: ')
    return message.split(" is invalid: ", 1)[1]


# kube-apiserver 1.36: a CRD with x-kubernetes-validations skips them when the schema found a
# type, enum, required, too-long or too-many error, and says so in a last `<nil>` cause.
NOT_CHECKED = (
    "<nil>: Invalid value: null: some validation rules were not checked because the object "
    "was invalid; correct the existing errors to complete validation"
)


def _both(*errors: str) -> str:
    return "[" + ", ".join(errors) + "]"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"size": "big"},
            _both(
                'spec.size: Invalid value: "string": spec.size in body must be of type integer: '
                '"string"',
                # the scale subresource's specReplicasPath accessor
                ".spec.size: Invalid value: 0: .spec.size accessor error: big is of the type "
                "string, expected int64",
                NOT_CHECKED,
            ),
        ),
        (
            {"size": 0},
            "spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1",
        ),
        (
            # value errors do not stop the CEL rules (1.36)
            {"size": 11},
            _both(
                "spec.size: Invalid value: 11: spec.size in body should be less than or equal "
                "to 10",
                "spec.size: Invalid value: size must not exceed maxSize",
            ),
        ),
        (
            {"color": "purple"},
            _both(
                'spec.color: Unsupported value: "purple": supported values: "red", "green", "blue"',
                NOT_CHECKED,
            ),
        ),
        (
            {"label": "ABC"},
            "spec.label: Invalid value: \"ABC\": spec.label in body should match '^[a-z]+$'",
        ),
        (
            {"label": "a"},
            'spec.label: Invalid value: "a": spec.label in body should be at least 2 chars long',
        ),
        (
            {"tags": []},
            "spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items",
        ),
        (
            {"tags": ["a", "b", "c", "d"]},
            _both("spec.tags: Too many: 4: must have at most 3 items", NOT_CHECKED),
        ),
        (
            {"when": "yesterday"},
            _both(
                'spec.when: Invalid value: "yesterday": spec.when in body must be of type '
                'date-time: "yesterday"',
                NOT_CHECKED,
            ),
        ),
        (
            {"port": True},
            _both(
                'spec.port: Invalid value: "boolean": spec.port in body must be of type '
                'integer,string: "boolean"',
                NOT_CHECKED,
            ),
        ),
        (
            {"limits": {"cpu": "x"}},
            _both(
                'spec.limits.cpu: Invalid value: "string": spec.limits.cpu in body must be of '
                'type integer: "string"',
                NOT_CHECKED,
            ),
        ),
        # a rule on an object shows no value (1.36; older servers showed "object")
        ({"size": 6}, "spec.size: Invalid value: size must not exceed maxSize"),
        # a rule on a scalar shows the value (1.36; older servers showed its type name)
        (
            {"label": "reserved"},
            'spec.label: Invalid value: "reserved": label reserved is not allowed',
        ),
    ],
)
def test_schema_errors(api_client: ApiClient, ns: str, spec: dict[str, Any], expected: str) -> None:
    assert _message(api_client, ns, **spec) == expected


def test_required_and_too_long(api_client: ApiClient, ns: str) -> None:
    body = widget("w", label="abcdefghij")
    del body["spec"]["size"]
    status, res = raw(api_client, "POST", f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/{PLURAL}", body)
    assert status == 422
    causes = {c["field"]: c for c in res["details"]["causes"]}
    assert causes["spec.size"]["reason"] == "FieldValueRequired"
    assert causes["spec.size"]["message"] == "Required value"
    assert causes["spec.label"]["reason"] == "FieldValueTooLong"
    assert causes["spec.label"]["message"] == "Too long: may not be more than 8 bytes"
    assert res["message"].startswith('Widget.conformance.zenith.example "w" is invalid: [')


def test_defaults_pruning_and_preserved_fields(api_client: ApiClient, ns: str) -> None:
    status, obj = _create(
        api_client,
        ns,
        port="http",
        note=None,
        unknown="dropped",
        extra={"anything": {"goes": 1}},
        when="2026-01-02T03:04:05Z",
    )
    assert status == 201, obj
    spec = obj["spec"]
    assert spec["maxSize"] == 5  # default
    assert spec["nested"] == {"level": "info"}  # default object, then its own defaults
    assert "unknown" not in spec  # pruned
    assert spec["extra"] == {"anything": {"goes": 1}}  # x-kubernetes-preserve-unknown-fields
    assert spec["note"] is None  # nullable keeps null
    assert spec["port"] == "http"  # int-or-string
    _, again = raw(api_client, "GET", f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/{PLURAL}/w")
    assert again["spec"] == spec


def test_non_nullable_null_is_dropped_then_defaulted(api_client: ApiClient, ns: str) -> None:
    status, obj = _create(api_client, ns, maxSize=None, color=None)
    assert status == 201, obj
    assert obj["spec"]["maxSize"] == 5 and "color" not in obj["spec"]


def test_strict_field_validation_rejects_unknown(api_client: ApiClient, ns: str) -> None:
    status, body = raw(
        api_client,
        "POST",
        f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/{PLURAL}",
        widget("w", bogus=1),
        query={"fieldValidation": "Strict"},
    )
    assert status == 400
    assert body["reason"] == "BadRequest"
    assert 'strict decoding error: unknown field "spec.bogus"' in body["message"]


def test_transition_rules(api_client: ApiClient, ns: str) -> None:
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/{PLURAL}/w"
    merge = "application/merge-patch+json"
    status, _ = _create(api_client, ns, ttl=5, mode="draft")
    assert status == 201
    status, _ = raw(api_client, "PATCH", base, {"spec": {"mode": "live", "ttl": 6}}, merge)
    assert status == 200
    status, body = raw(api_client, "PATCH", base, {"spec": {"ttl": 3}}, merge)
    assert status == 422
    assert body["message"].endswith("is invalid: spec.ttl: Invalid value: 3: ttl may only grow")
    status, body = raw(api_client, "PATCH", base, {"spec": {"mode": "other"}}, merge)
    assert status == 422
    assert body["message"].endswith("is invalid: spec: Forbidden: mode is immutable once set")
    assert body["details"]["causes"][0]["reason"] == "FieldValueForbidden"


def test_update_is_validated_too(api_client: ApiClient, ns: str) -> None:
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/{PLURAL}/w"
    _create(api_client, ns)
    status, body = raw(
        api_client, "PATCH", base, {"spec": {"size": 0}}, "application/merge-patch+json"
    )
    assert status == 422
    assert body["details"]["causes"][0]["field"] == "spec.size"
    _, obj = raw(api_client, "GET", base)
    obj["spec"]["color"] = "nope"
    status, body = raw(api_client, "PUT", base, obj)
    assert status == 422 and body["details"]["causes"][0]["field"] == "spec.color"


def test_crd_is_established_with_accepted_names(api_client: ApiClient) -> None:
    status, crd = raw(
        api_client,
        "GET",
        f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{PLURAL}.{GROUP}",
    )
    assert status == 200
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions["Established"] == "True" and conditions["NamesAccepted"] == "True"
    assert crd["status"]["acceptedNames"]["kind"] == "Widget"
    assert crd["status"]["storedVersions"] == [VERSION]


def test_crd_name_must_match(api_client: ApiClient) -> None:
    body = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "wrong.conformance.zenith.example"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": "things", "kind": "Thing"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                }
            ],
        },
    }
    status, res = raw(
        api_client, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body
    )
    assert status == 422
    assert any(c["field"] == "metadata.name" for c in res["details"]["causes"])


def test_one_of(api_client: ApiClient, ns: str) -> None:
    status, _ = _create(api_client, ns, choice={"a": "x"})
    assert status == 201
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/{PLURAL}/w"
    status, body = raw(
        api_client, "PATCH", base, {"spec": {"choice": {"b": "y"}}}, "application/merge-patch+json"
    )
    assert status == 422
    # kube-openapi's composite errors carry no field path (`<nil>`)
    assert body["message"].endswith(
        'is invalid: <nil>: Invalid value: "": "spec.choice" must validate one and only one '
        "schema (oneOf). Found 2 valid alternatives"
    )
    assert [c["field"] for c in body["details"]["causes"]] == ["<nil>"]
    status, body = raw(
        api_client,
        "PATCH",
        base,
        {"spec": {"choice": {"a": None, "b": "y"}}},
        "application/merge-patch+json",
    )
    assert status == 200


def test_crd_schema_must_be_structural(api_client: ApiClient) -> None:
    body = {
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
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": {"properties": {"x": {"type": "string"}}}},
                        }
                    },
                }
            ],
        },
    }
    status, res = raw(
        api_client, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body
    )
    assert status == 422, res
    fields = [c["field"] for c in res["details"]["causes"]]
    # versions with one schema are validated as the internal version's spec.validation
    assert "spec.validation.openAPIV3Schema.properties[spec].type" in fields
