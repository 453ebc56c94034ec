"""Spec errors the CRD schema cannot catch: they need the API (a referenced ConfigMap is
missing) or relate fields the schema checks separately. Each names the field path."""

from __future__ import annotations

from zenith_operator.api.cluster import ZenithCluster
from zenith_operator.api.spec import SpecError
from zenith_operator.controller.reconcile_kube import Kube, Ref
from zenith_operator.resources.config import ResolvedSource, referenced_sources, resolve


def check_static(cluster: ZenithCluster) -> None:
    z = cluster.spec.zenith_spec
    if z.local_storage and len(z.local_storage.nodes) < z.replicas:
        raise SpecError(
            "spec.zenithSpec.localStorage.nodes",
            f"has {len(z.local_storage.nodes)} entries; one per instance is needed "
            f"(replicas: {z.replicas})",
        )


def read_sources(kube: Kube, cluster: ZenithCluster) -> list[ResolvedSource]:
    """Every referenced ConfigMap/Secret, or a SpecError naming the first missing one."""
    out = []
    for ref in referenced_sources(cluster.spec, cluster.name):
        obj = kube.get(Ref("v1", ref.kind, ref.name, cluster.namespace))
        if obj is None:
            raise SpecError(
                ref.field_path,
                f"{ref.kind} {ref.name!r} not found in namespace {cluster.namespace!r}",
            )
        out.append(resolve(ref, obj))
    return out
