"""spec.zenithSpec.stopped: true stops the database (no pods) but keeps its storage and
network identity (PVCs, Services); false starts it again with the data intact."""

from __future__ import annotations

import pytest

from zenith_operator import naming

from . import manifests, timeouts
from .conftest import E2E
from .kube import ZC, wait_normal, wait_state
from .sql import create_marker, has_marker

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(timeouts.TEST)]

NAME = "stopstart"


def set_stopped(e2e: E2E, stopped: bool) -> None:
    e2e.kube.merge_patch(ZC, NAME, {"spec": {"zenithSpec": {"stopped": stopped}}}, namespace=e2e.ns)


def test_stop_keeps_storage_and_start_brings_data_back(e2e: E2E) -> None:
    kube, ns = e2e.kube, e2e.ns
    status = e2e.create_normal_cluster(NAME)
    create_marker(kube, ns, status["activeInstance"], "before-stop")
    pvcs = [manifests.data_pvc_name(NAME, i) for i in (0, 1)]
    uids = {p: kube.get("pvc", p, namespace=ns)["metadata"]["uid"] for p in pvcs}

    set_stopped(e2e, True)
    wait_state(kube, ns, NAME, "Stopped", timeouts.STOP)
    e2e.wait_pods_gone(NAME, timeouts.STOP)
    sts = kube.get("statefulset", naming.statefulset_name(NAME), namespace=ns)
    assert sts["spec"]["replicas"] == 0
    for pvc in pvcs:
        obj = kube.get("pvc", pvc, namespace=ns)
        assert obj["metadata"]["uid"] == uids[pvc], f"{pvc} was recreated"
        assert obj["status"]["phase"] == "Bound"
    for svc in (
        naming.headless_service_name(NAME),
        naming.rw_service_name(NAME),
        naming.ro_service_name(NAME),
    ):
        kube.get("service", svc, namespace=ns)

    set_stopped(e2e, False)
    status = wait_normal(kube, ns, NAME, timeouts.RECOVERY)
    assert has_marker(kube, ns, status["activeInstance"], "before-stop")
    assert has_marker(kube, ns, status["standbyInstance"], "before-stop")
    for pvc in pvcs:
        assert kube.get("pvc", pvc, namespace=ns)["metadata"]["uid"] == uids[pvc]
