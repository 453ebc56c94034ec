"""The generated CRD: up to date, structural, and with the promised columns and rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from zenith_operator.api import crd
from zenith_operator.api.spec import AgentSpec, Ports, RetentionPolicy, ZenithSpec
from zenith_sandbox.apiserver import crds
from zenith_sandbox.apiserver.rest import Ctx

ROOT = Path(__file__).resolve().parents[3]
CRD_FILE = ROOT / crd.DEFAULT_PATH


def test_deploy_crd_is_up_to_date() -> None:
    assert crd.main(["--check", str(CRD_FILE)]) == 0, (
        "deploy/crds is stale: run `zenith-operator crds --write "
        f"{crd.DEFAULT_PATH}` (or `make crds`)"
    )


def test_check_fails_on_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "crd.yaml"
    stale.write_text("old\n")
    assert crd.main(["--check", str(stale)]) == 1
    assert crd.main(["--write", str(stale)]) == 0
    assert crd.main(["--check", str(stale)]) == 0


def _walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        out.append((path, node))
        for key, prop in (node.get("properties") or {}).items():
            out += _walk(prop, f"{path}.{key}")
        if isinstance(node.get("items"), dict):
            out += _walk(node["items"], f"{path}[]")
    return out


def test_schema_is_structural() -> None:
    schema = crd.openapi_schema()
    for path, node in _walk(schema):
        assert "$ref" not in node, path
        assert "title" not in node, path
        assert "type" in node or node.get("x-kubernetes-int-or-string"), path
        if "anyOf" in node:
            assert node.get("x-kubernetes-int-or-string"), path
        if "properties" in node:
            assert "additionalProperties" not in node, path
        assert node.get("additionalProperties") is not False, path
        if path.startswith(".spec"):
            assert "nullable" not in node, path


def test_free_form_fields_preserve_unknown() -> None:
    nodes = dict(_walk(crd.openapi_schema()))
    for path in (
        ".spec.zenithSpec.dbSpecs",
        ".spec.template.spec.affinity",
        ".spec.template.spec.containers[]",
        ".spec.volumeClaimTemplates[]",
    ):
        assert nodes[path].get("x-kubernetes-preserve-unknown-fields") is True, path
    assert nodes[".spec.zenithSpec.storageSize"]["x-kubernetes-int-or-string"] is True


def test_rules_and_defaults() -> None:
    nodes = dict(_walk(crd.openapi_schema()))
    z = nodes[".spec.zenithSpec"]
    rules = [r["rule"] for r in z["x-kubernetes-validations"]]
    assert "self.unreachableTimeout > self.pollingInterval" in rules
    assert nodes[".spec.zenithSpec.ports"]["default"] == {
        "listen": 32080,
        "replication": 12345,
        "agent": 8008,
    }
    assert nodes[".spec.zenithSpec.pollingInterval"] == {
        "default": 10,
        "description": "seconds between two polls of each instance's agent",
        "minimum": 1,
        "maximum": 300,
        "type": "integer",
    }
    assert nodes[".spec.zenithSpec.storageSize"]["x-kubernetes-validations"][0]["rule"] == (
        "!quantity(string(self)).isLessThan(quantity(string(oldSelf)))"
    )


def test_names_columns_and_status_subresource() -> None:
    spec = crd.crd()["spec"]
    assert spec["group"] == "huawei.cloudb.com"
    assert spec["names"]["shortNames"] == ["zc"]
    version = spec["versions"][0]
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert columns == ["State", "Active", "Standby", "Replicas", "Age"]


def _model_defaults(model: type[BaseModel]) -> dict[str, Any]:
    """What the model fills into `{}`, without the fields the schema leaves to the model
    (empty lists/maps from default_factory, None)."""
    dumped: dict[str, Any] = model().model_dump(by_alias=True, mode="json", exclude_none=True)
    return {k: v for k, v in dumped.items() if v not in ([], {})}


@pytest.mark.parametrize(
    ("path", "model"),
    [
        (".spec.zenithSpec", ZenithSpec),
        (".spec.zenithSpec.ports", Ports),
        (".spec.agentSpec", AgentSpec),
        (".spec.retentionPolicy", RetentionPolicy),
    ],
)
def test_object_defaults_are_complete(path: str, model: type[BaseModel]) -> None:
    """kube-apiserver checks a default without applying nested defaults: each object's
    default must already hold every defaulted field, as the model does."""
    default = dict(_walk(crd.openapi_schema()))[path]["default"]
    assert default == _model_defaults(model)


def test_the_api_emulator_accepts_the_generated_crd() -> None:
    """Defaults, structural rules and CEL cost as kube-apiserver checks them."""
    body = crd.crd()
    body["metadata"]["uid"] = "u"
    assert crds.validate_crd(body, None, Ctx()) == []


def test_the_api_emulator_rejects_empty_object_defaults() -> None:
    """The defect a real v1.36 server found (issue 10): `default: {}` with a CEL rule."""
    body = crd.crd()
    body["metadata"]["uid"] = "u"
    spec = body["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["properties"]["zenithSpec"]["default"] = {}
    assert [str(e) for e in crds.validate_crd(body, None, Ctx())] == [
        "spec.validation.openAPIV3Schema.properties[spec].properties[zenithSpec].default: "
        'Invalid value: "object": no such key: unreachableTimeout evaluating rule: '
        "unreachableTimeout must be greater than pollingInterval"
    ]
