"""Property: the server's JSON merge patch equals RFC 7386 applied by a reference model."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
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


@pytest.mark.usefixtures("widgets")
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    doc=st.dictionaries(_keys, _docs, max_size=4),
    patch=st.dictionaries(_keys, _patches, max_size=4),
)
def test_merge_patch_matches_rfc7386(
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
    assert out["spec"].get("extra", {}) == rfc7386(doc, patch)
    raw(api_client, "DELETE", f"{base}/{name}")
