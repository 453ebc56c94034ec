"""The spec model: defaults, validation, and errors that name the field path."""

from __future__ import annotations

from typing import Any

import pytest

from zenith_operator.api.cluster import from_body
from zenith_operator.api.spec import (
    Engine,
    FailoverPolicy,
    ReclaimPolicy,
    SpecError,
    parse_quantity,
    parse_spec,
)


def test_defaults() -> None:
    spec = parse_spec({})
    z = spec.zenith_spec
    assert (z.replicas, z.polling_interval, z.unreachable_timeout) == (2, 10, 30)
    assert z.failover_policy is FailoverPolicy.ZERO_DATA_LOSS
    assert z.engine is Engine.POSTGRES
    assert (z.ports.listen, z.ports.replication, z.ports.agent) == (32080, 12345, 8008)
    assert z.image == "zenith-database:0.1.0"
    assert z.stopped is False
    assert z.local_storage is None
    assert spec.retention_policy.pvcs is ReclaimPolicy.RETAIN


def test_seed_sample_shape_parses() -> None:
    spec = parse_spec(
        {
            "zenithSpec": {
                "replicas": 2,
                "version": "v1.0.0",
                "packageName": "Zenith",
                "packageType": "tar",
                "storageClassName": "local",
                "storageSize": "5G",
                "replicationSSLMandatory": False,
                "pollingInterval": 10,
                "unreachableTimeout": 30,
                "instanceConfigMap": ["zenith-instance-config"],
                "dbConfigMap": ["zenith-db-config"],
                "dbSecrets": ["zenith-db-secret"],
                "dbSpecs": {"anything": {"nested": [1, 2]}},
            },
            "agentSpec": {"version": "v1.0.0", "agentConfig": ["db-agent-sample-config"]},
            "template": {"spec": {"containers": [{"name": "zenith-ha", "env": []}]}},
        }
    )
    assert spec.zenith_spec.storage_size == "5G"
    assert spec.zenith_spec.db_specs == {"anything": {"nested": [1, 2]}}
    assert spec.agent_spec.agent_config == ["db-agent-sample-config"]
    assert spec.template.spec.containers[0].as_dict() == {"name": "zenith-ha", "env": []}


@pytest.mark.parametrize(
    ("raw", "path", "words"),
    [
        ({"zenithSpec": {"replicas": 3}}, "spec.zenithSpec.replicas", "1 or 2"),
        ({"zenithSpec": {"pollingInterval": 0}}, "spec.zenithSpec.pollingInterval", "equal to 1"),
        (
            {"zenithSpec": {"unreachableTimeout": 3}},
            "spec.zenithSpec.unreachableTimeout",
            "equal to 4",
        ),
        (
            {"zenithSpec": {"pollingInterval": 30, "unreachableTimeout": 30}},
            "spec.zenithSpec.unreachableTimeout",
            "greater than pollingInterval",
        ),
        ({"zenithSpec": {"storageSize": "5X"}}, "spec.zenithSpec.storageSize", "quantity"),
        ({"zenithSpec": {"storageSize": 0}}, "spec.zenithSpec.storageSize", "at least 1"),
        ({"zenithSpec": {"packageType": "zip"}}, "spec.zenithSpec.packageType", "tar"),
        ({"zenithSpec": {"failoverPolicy": "Yolo"}}, "spec.zenithSpec.failoverPolicy", "Zero"),
        ({"zenithSpec": {"ports": {"listen": 8008}}}, "spec.zenithSpec.ports.listen", "differ"),
        ({"zenithSpec": {"ports": {"agent": 70000}}}, "spec.zenithSpec.ports.agent", "65535"),
        (
            {"zenithSpec": {"localStorage": {"nodes": [{"node": "n1", "path": "rel"}]}}},
            "spec.zenithSpec.localStorage.nodes[0].path",
            "",
        ),
        ({"zenithSpec": {"localStorage": {"nodes": []}}}, "spec.zenithSpec.localStorage.nodes", ""),
        ({"template": {"spec": {"containers": [{}]}}}, "spec.template.spec.containers[0].name", ""),
        ({"retentionPolicy": {"pvcs": "Keep"}}, "spec.retentionPolicy.pvcs", "Retain"),
    ],
)
def test_errors_name_the_field(raw: dict[str, Any], path: str, words: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(raw)
    assert caught.value.path == path
    assert words in caught.value.message
    assert str(caught.value).startswith(path + ": ")


def test_unknown_fields_are_ignored_like_the_api_server_prunes_them() -> None:
    assert parse_spec({"zenithSpec": {"replicas": 1, "bogus": 1}}).zenith_spec.replicas == 1


@pytest.mark.parametrize(
    ("text", "value"),
    [("5G", 5e9), ("5Gi", 5 * 2**30), ("512Mi", 512 * 2**20), ("1e3", 1000.0), ("7", 7.0)],
)
def test_quantities(text: str, value: float) -> None:
    assert parse_quantity(text) == value


def test_from_body_reads_identity() -> None:
    cluster = from_body(
        {
            "metadata": {"name": "pair", "namespace": "ns", "uid": "u-1", "generation": 3},
            "spec": {"zenithSpec": {"replicas": 1}},
            "status": {"state": "Normal"},
        }
    )
    assert (cluster.name, cluster.namespace, cluster.ref.generation) == ("pair", "ns", 3)
    assert cluster.status.state == "Normal"
    assert cluster.ref.owner_reference() == {
        "apiVersion": "huawei.cloudb.com/v1",
        "kind": "ZenithCluster",
        "name": "pair",
        "uid": "u-1",
        "controller": True,
        "blockOwnerDeletion": True,
    }
