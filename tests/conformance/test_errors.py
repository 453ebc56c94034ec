"""Error answers are metav1.Status bodies worded as kube-apiserver words them."""

from __future__ import annotations

from kubernetes.client import ApiClient

from .conftest import raw


def test_not_found(api_client: ApiClient, ns: str) -> None:
    status, body = raw(api_client, "GET", f"/api/v1/namespaces/{ns}/configmaps/nope")
    assert status == 404
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'configmaps "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "kind": "configmaps"},
        "code": 404,
    }


def test_not_found_names_group(api_client: ApiClient, ns: str) -> None:
    status, body = raw(api_client, "GET", f"/apis/apps/v1/namespaces/{ns}/statefulsets/nope")
    assert status == 404
    assert body["message"] == 'statefulsets.apps "nope" not found'
    assert body["details"] == {"name": "nope", "group": "apps", "kind": "statefulsets"}


def test_already_exists(api_client: ApiClient, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    raw(api_client, "POST", path, {"metadata": {"name": "a"}})
    status, body = raw(api_client, "POST", path, {"metadata": {"name": "a"}})
    assert status == 409
    assert body["reason"] == "AlreadyExists"
    assert body["message"] == 'configmaps "a" already exists'
    assert body["details"] == {"name": "a", "kind": "configmaps"}


def test_conflict_on_stale_resource_version(api_client: ApiClient, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    _, obj = raw(api_client, "POST", path, {"metadata": {"name": "a"}, "data": {"x": "1"}})
    stale = obj["metadata"]["resourceVersion"]
    raw(api_client, "PATCH", f"{path}/a", {"data": {"x": "2"}}, "application/merge-patch+json")
    obj["data"] = {"x": "3"}
    status, body = raw(api_client, "PUT", f"{path}/a", obj)
    assert status == 409
    assert body["reason"] == "Conflict"
    assert body["message"] == (
        'Operation cannot be fulfilled on configmaps "a": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    assert body["details"] == {"name": "a", "kind": "configmaps"}
    patch = {"metadata": {"resourceVersion": stale}, "data": {"x": "4"}}
    status, body = raw(api_client, "PATCH", f"{path}/a", patch, "application/merge-patch+json")
    assert status == 409 and body["reason"] == "Conflict"


def test_invalid_name(api_client: ApiClient, ns: str) -> None:
    status, body = raw(
        api_client,
        "POST",
        f"/api/v1/namespaces/{ns}/configmaps",
        {"metadata": {"name": "Bad_Name"}},
    )
    assert status == 422
    assert body["reason"] == "Invalid"
    assert body["message"].startswith(
        'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": '
        "a lowercase RFC 1123 subdomain must consist of"
    )
    assert body["details"]["kind"] == "ConfigMap"
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    assert body["details"]["causes"][0]["reason"] == "FieldValueInvalid"


def test_missing_name(api_client: ApiClient, ns: str) -> None:
    status, body = raw(api_client, "POST", f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {}})
    assert status == 422
    assert body["message"] == (
        'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required'
    )


def test_missing_namespace(api_client: ApiClient) -> None:
    status, body = raw(
        api_client,
        "POST",
        "/api/v1/namespaces/zconf-absent-ns/configmaps",
        {"metadata": {"name": "a"}},
    )
    assert status == 404
    assert body["message"] == 'namespaces "zconf-absent-ns" not found'
    assert body["details"] == {"name": "zconf-absent-ns", "kind": "namespaces"}


def test_name_mismatch_on_put(api_client: ApiClient, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    raw(api_client, "POST", path, {"metadata": {"name": "a"}})
    status, body = raw(api_client, "PUT", f"{path}/a", {"metadata": {"name": "b"}})
    assert status == 400
    assert body["reason"] == "BadRequest"
    assert body["message"] == "the name of the object (b) does not match the name on the URL (a)"


def test_unknown_resource_path(api_client: ApiClient) -> None:
    status, body = raw(api_client, "GET", "/api/v1/nosuchthings")
    assert status == 404
    assert body["reason"] == "NotFound"
    assert body["message"] == "the server could not find the requested resource"


def test_pod_without_containers_is_invalid(api_client: ApiClient, ns: str) -> None:
    status, body = raw(
        api_client,
        "POST",
        f"/api/v1/namespaces/{ns}/pods",
        {"metadata": {"name": "p"}, "spec": {"containers": []}},
    )
    assert status == 422
    fields = [c["field"] for c in body["details"]["causes"]]
    assert "spec.containers" in fields


def _workload(kind: str, labels: dict[str, str]) -> dict[str, object]:
    spec: dict[str, object] = {
        "replicas": 0,
        "selector": {"matchLabels": {"app": "x"}},
        "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "c", "image": "i:1"}]},
        },
    }
    if kind == "statefulsets":
        spec["serviceName"] = "x"
    return {"metadata": {"name": "w"}, "spec": spec}


def test_workload_selector_must_match_template(api_client: ApiClient, ns: str) -> None:
    for kind, word in (("statefulsets", "StatefulSet"), ("deployments", "Deployment")):
        status, body = raw(
            api_client,
            "POST",
            f"/apis/apps/v1/namespaces/{ns}/{kind}",
            _workload(kind, {"app": "y"}),
        )
        assert status == 422
        assert body["message"] == (
            f'{word}.apps "w" is invalid: spec.template.metadata.labels: Invalid value: '
            '{"app":"y"}: `selector` does not match template `labels`'
        )


def test_pod_spec_is_mostly_immutable(api_client: ApiClient, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/pods"
    raw(
        api_client,
        "POST",
        base,
        {
            "metadata": {"name": "p"},
            "spec": {"schedulerName": "zconf-none", "containers": [{"name": "c", "image": "i:1"}]},
        },
    )
    status, body = raw(
        api_client,
        "PATCH",
        f"{base}/p",
        {"spec": {"hostname": "other"}},
        "application/merge-patch+json",
    )
    assert status == 422
    assert body["details"]["causes"][0]["field"] == "spec"
    assert body["details"]["causes"][0]["reason"] == "FieldValueForbidden"
    assert "pod updates may not change fields other than" in body["message"]
    status, _ = raw(
        api_client,
        "PATCH",
        f"{base}/p",
        {"spec": {"containers": [{"name": "c", "image": "i:2"}]}},
        "application/strategic-merge-patch+json",
    )
    assert status == 200


def test_statefulset_spec_is_mostly_immutable(api_client: ApiClient, ns: str) -> None:
    base = f"/apis/apps/v1/namespaces/{ns}/statefulsets"
    raw(api_client, "POST", base, _workload("statefulsets", {"app": "x"}))
    status, body = raw(
        api_client,
        "PATCH",
        f"{base}/w",
        {"spec": {"serviceName": "other"}},
        "application/merge-patch+json",
    )
    assert status == 422
    assert body["message"] == (
        'StatefulSet.apps "w" is invalid: spec: Forbidden: updates to statefulset spec for '
        "fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', "
        "'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' "
        "are forbidden"
    )
    for mutable in ({"replicas": 2}, {"revisionHistoryLimit": 3}):
        status, _ = raw(
            api_client, "PATCH", f"{base}/w", {"spec": mutable}, "application/merge-patch+json"
        )
        assert status == 200


def test_service_cluster_ip_kept_on_update(api_client: ApiClient, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/services"
    _, svc = raw(
        api_client, "POST", base, {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}
    )
    ip = svc["spec"]["clusterIP"]
    status, out = raw(
        api_client,
        "PUT",
        f"{base}/s",
        {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 81}]}},
    )
    assert status == 200 and out["spec"]["clusterIP"] == ip
    status, body = raw(
        api_client,
        "PATCH",
        f"{base}/s",
        {"spec": {"clusterIP": "None", "clusterIPs": ["None"]}},
        "application/merge-patch+json",
    )
    assert status == 422
    assert body["details"]["causes"][0]["field"] == "spec.clusterIPs[0]"


def test_create_with_resource_version_is_500(api_client: ApiClient, ns: str) -> None:
    status, body = raw(
        api_client,
        "POST",
        f"/api/v1/namespaces/{ns}/configmaps",
        {"metadata": {"name": "a", "resourceVersion": "12"}},
    )
    assert status == 500
    assert body["message"] == "resourceVersion should not be set on objects to be created"


def test_invalid_label_key_and_value(api_client: ApiClient, ns: str) -> None:
    status, body = raw(
        api_client,
        "POST",
        f"/api/v1/namespaces/{ns}/configmaps",
        {"metadata": {"name": "a", "labels": {"bad key": "ok"}}},
    )
    assert status == 422
    assert body["message"].startswith(
        'ConfigMap "a" is invalid: metadata.labels: Invalid value: "bad key": name part must '
        "consist of alphanumeric characters"
    )
    status, body = raw(
        api_client,
        "POST",
        f"/api/v1/namespaces/{ns}/configmaps",
        {"metadata": {"name": "a", "labels": {"ok": "bad value"}}},
    )
    assert status == 422
    assert body["message"].startswith(
        'ConfigMap "a" is invalid: metadata.labels: Invalid value: "bad value": a valid label '
        "must be an empty string or consist of alphanumeric characters"
    )
