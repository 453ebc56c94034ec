"""The emulator's endpoints controller stays cheap with many Services and pods.

`make bench-scale` makes 1500 Services and 1000 pods in one namespace; a sync that
matched every Service against every pod and re-submitted every Endpoints took the
emulator to a few requests per second.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from zenith_sandbox.apiserver import ApiServer, endpoints, rules
from zenith_sandbox.apiserver.rest import Ctx

N = 40


def test_one_pod_write_matches_few_pods_and_rewrites_one_endpoints(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    srv = ApiServer()
    api = srv.api
    pods, services = api.registry.get("", "v1", "pods"), api.registry.get("", "v1", "services")
    namespaces = api.registry.get("", "v1", "namespaces")
    assert pods and services and namespaces
    matched, updated = [0], [0]
    real_match, real_update = rules.selector_matches, api.update

    def counting_match(*args: Any) -> bool:
        matched[0] += 1
        return real_match(*args)

    def counting_update(rt: Any, *args: Any) -> Any:
        updated[0] += rt.plural == "endpoints"
        return real_update(rt, *args)

    async def scenario() -> None:
        api.create(namespaces, "", {"metadata": {"name": "ns"}}, Ctx())
        for i in range(N):
            labels = {"app": "db", "instance": f"c{i}"}
            spec = {"selector": labels, "ports": [{"port": 80}]}
            api.create(services, "ns", {"metadata": {"name": f"c{i}"}, "spec": spec}, Ctx())
            pod = {"metadata": {"name": f"c{i}-0", "labels": labels},
                   "spec": {"containers": [{"name": "c", "image": "i"}]}}  # fmt: skip
            api.create(pods, "ns", pod, Ctx())
        await asyncio.sleep(0)  # the deferred syncs
        monkeypatch.setattr(endpoints, "selector_matches", counting_match)
        monkeypatch.setattr(api, "update", counting_update)
        status = {"status": {"phase": "Running", "podIP": "10.0.0.7"}}
        old = api.store.get(("", "pods"), "ns", "c7-0")
        assert old is not None
        api.update(pods, "ns", "c7-0", {**old, **status}, "status", Ctx())
        await asyncio.sleep(0)

    asyncio.run(scenario())
    assert matched[0] <= 2 * N  # each Service looks at its own pods, not at all N
    assert updated[0] == 1  # only c7's Endpoints changed
    ep = api.store.get(("", "endpoints"), "ns", "c7")
    assert ep is not None
    assert ep["subsets"][0]["notReadyAddresses"][0]["ip"] == "10.0.0.7"
