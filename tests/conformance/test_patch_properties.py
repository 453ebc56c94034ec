"""Property: the server's JSON merge patch equals kube-apiserver's (evanphx/json-patch v4)
merge patch applied by a reference model: RFC 7386 plus null pruning in inserted values."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from kubernetes.client import ApiClient

from .conftest import raw
from .widget_crd import GROUP, PLURAL, VERSION, widget

_keys = st.text(alphabet="abcxyz", min_size=1, max_size=3)
_scalars = st.one_of(st.booleans(), st.integers(-1000, 1000), st.text("abc ", max_size=4))
_docs = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_keys, inner, max_size=3)),
    max_leaves=8,
)
_patches = st.recursive(
    st.one_of(_scalars, st.none()),
    lambda inner: st.one_of(
        st.lists(inner.filter(lambda v: v is not None), max_size=3),
        st.dictionaries(_keys, inner, max_size=3),
    ),
    max_leaves=8,
)


def rfc7386(target: Any, patch: Any) -> Any:
    """The RFC's own pseudo-code."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = rfc7386(result.get(key), value)
    return result


def _pruned(value: Any) -> Any:
    """evanphx `pruneNulls`: null members of objects go (at any depth), null array items stay."""
    if isinstance(value, dict):
        return {k: _pruned(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def kube_merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """evanphx/json-patch v4 `mergeDocs` (what kube-apiserver runs): as RFC 7386, but a
    value set where the target holds no object is pruned of nulls (so `{"a": [{"a": null}]}`
    yields `{"a": [{}]}`, RFC 7386 keeps the null); an object replaced by a non-object
    patch value is not pruned."""
    result = copy.deepcopy(target)
    for key, value in patch.items():
        cur = result.get(key)
        if value is None:
            result.pop(key, None)
        elif not isinstance(cur, dict):
            result[key] = _pruned(value)
        elif isinstance(value, dict):
            result[key] = kube_merge_patch(cur, value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def test_reference_model_is_rfc7386_without_nulls_in_patches() -> None:
    doc, patch = {"a": {"b": 1}, "c": 2}, {"a": {"b": None, "d": 3}, "c": None, "e": [1]}
    assert kube_merge_patch(doc, patch) == kube_merge_patch(doc, patch) == {"a": {"d": 3}, "e": [1]}
    assert kube_merge_patch({}, {"a": [{"a": None}]}) == {"a": [{}]}
    assert rfc7386({}, {"a": [{"a": None}]}) == {"a": [{"a": None}]}


@pytest.mark.usefixtures("widgets")
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    doc=st.dictionaries(_keys, _docs, max_size=4),
    patch=st.dictionaries(_keys, _patches, max_size=4),
)
@example(doc={}, patch={"a": [{"a": None}]})  # found on kube-apiserver 1.36
@example(doc={"a": {"b": 1}}, patch={"a": [{"c": None}]})
def test_merge_patch_matches_kube_apiserver(
    api_client: ApiClient, ns: str, doc: dict[str, Any], patch: dict[str, Any]
) -> None:
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/{PLURAL}"
    name = f"p-{uuid.uuid4().hex[:8]}"
    status, _ = raw(api_client, "POST", base, widget(name, extra=doc))
    assert status == 201
    status, out = raw(
        api_client,
        "PATCH",
        f"{base}/{name}",
        {"spec": {"extra": patch}},
        "application/merge-patch+json",
    )
    assert status == 200, out
    assert out["spec"].get("extra", {}) == kube_merge_patch(doc, patch)
    raw(api_client, "DELETE", f"{base}/{name}")
