"""The whole ZenithCluster object: identity + parsed spec + status."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from zenith_operator import naming
from zenith_operator.api.spec import DNS1035_LABEL, SpecError, ZenithClusterSpec, parse_spec
from zenith_operator.api.status import ZenithClusterStatus

API_VERSION = f"{naming.GROUP}/{naming.VERSION}"
MAX_NAME_LENGTH = 52  # StatefulSet pods get a label NAME-<10-char revision hash> (<= 63)


@dataclass(frozen=True)
class ClusterRef:
    """What an owned child needs to know of its ZenithCluster."""

    name: str
    namespace: str
    uid: str = ""
    generation: int | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    def owner_reference(self) -> dict[str, Any]:
        return {
            "apiVersion": API_VERSION,
            "kind": naming.KIND,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


@dataclass(frozen=True)
class ZenithCluster:
    ref: ClusterRef
    spec: ZenithClusterSpec
    status: ZenithClusterStatus

    @property
    def name(self) -> str:
        return self.ref.name

    @property
    def namespace(self) -> str:
        return self.ref.namespace


def ref_from_body(body: Mapping[str, Any]) -> ClusterRef:
    meta = body.get("metadata") or {}
    return ClusterRef(
        name=str(meta.get("name", "")),
        namespace=str(meta.get("namespace", "")),
        uid=str(meta.get("uid", "")),
        generation=meta.get("generation"),
        labels=dict(meta.get("labels") or {}),
    )


def check_name(name: str) -> None:
    """The CRD's rules on metadata.name, for objects stored before they existed."""
    if len(name) > MAX_NAME_LENGTH:
        raise SpecError("metadata.name", f"must be at most {MAX_NAME_LENGTH} characters")
    if not re.match(DNS1035_LABEL, name):
        raise SpecError("metadata.name", f"{name!r} is not a DNS-1035 label")


def from_body(body: Mapping[str, Any]) -> ZenithCluster:
    """Parse a ZenithCluster object; raises SpecError naming the bad field."""
    check_name(str((body.get("metadata") or {}).get("name", "")))
    return ZenithCluster(
        ref=ref_from_body(body),
        spec=parse_spec(body.get("spec")),
        status=ZenithClusterStatus.model_validate(dict(body.get("status") or {})),
    )
