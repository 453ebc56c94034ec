"""The generated CRD: up to date, structural, and with the promised columns and rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zenith_operator.api import crd

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
    assert nodes[".spec.zenithSpec"]["default"] == {}
    assert nodes[".spec.zenithSpec.ports"]["default"] == {}
    assert nodes[".spec.zenithSpec.pollingInterval"] == {
        "default": 10,
        "description": "seconds between two polls of each instance's agent",
        "minimum": 1,
        "maximum": 300,
        "type": "integer",
    }
    assert nodes[".spec.zenithSpec.storageSize"]["x-kubernetes-validations"][0]["rule"] == (
        "self == oldSelf"
    )


def test_names_columns_and_status_subresource() -> None:
    spec = crd.crd()["spec"]
    assert spec["group"] == "huawei.cloudb.com"
    assert spec["names"]["shortNames"] == ["zc"]
    version = spec["versions"][0]
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert columns == ["State", "Active", "Standby", "Replicas", "Age"]
