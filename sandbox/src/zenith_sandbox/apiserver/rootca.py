"""kube-controller-manager's root-ca-cert-publisher: ConfigMap `kube-root-ca.crt` in
every namespace, recreated when deleted and reset when changed (asynchronously)."""

from __future__ import annotations

import contextlib

from .errors import ApiError
from .resources import ResourceType
from .rest import Api, Ctx
from .storage import Obj

NAME = "kube-root-ca.crt"
DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
    "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
    "guaranteed across distributions of Kubernetes clusters."
)
# The emulator serves plain HTTP: there is no CA; the bundle only says so.
PLACEHOLDER_CA = "# zenith API emulator: plain HTTP, no certificate authority\n"
NAMESPACES, CONFIGMAPS = ("", "namespaces"), ("", "configmaps")


class RootCAPublisher:
    """Keeps `kube-root-ca.crt` (data `ca.crt`) in every namespace that is not terminating."""

    def __init__(self, api: Api, ca: str = PLACEHOLDER_CA) -> None:
        self.api = api
        self.ca = ca
        api.after_write.append(self.on_write)

    def on_write(self, rt: ResourceType, obj: Obj) -> None:
        m = obj["metadata"]
        if rt.key == NAMESPACES:
            name = m["name"]
            self.api.defer(lambda: self.sync(name))
        elif rt.key == CONFIGMAPS and m["name"] == NAME:
            ns = m["namespace"]
            self.api.defer(lambda: self.sync(ns))

    def sync(self, namespace: str) -> None:
        store = self.api.store
        ns = store.get(NAMESPACES, "", namespace)
        if ns is None or ns["metadata"].get("deletionTimestamp"):
            return
        rt = self.api.registry.by_key(CONFIGMAPS)
        assert rt is not None
        data = {"ca.crt": self.ca}
        cm = store.get(CONFIGMAPS, namespace, NAME)
        with contextlib.suppress(ApiError):  # raced with a client; its write retriggers us
            if cm is None:
                body = {
                    "metadata": {
                        "name": NAME,
                        "annotations": {"kubernetes.io/description": DESCRIPTION},
                    },
                    "data": data,
                }
                self.api.create(rt, namespace, body, Ctx())
            elif cm.get("data") != data or not (cm["metadata"].get("annotations") or {}).get(
                "kubernetes.io/description"
            ):
                new = {**cm, "data": data, "metadata": {**cm["metadata"]}}
                annotations = dict(new["metadata"].get("annotations") or {})
                annotations["kubernetes.io/description"] = DESCRIPTION
                new["metadata"]["annotations"] = annotations
                self.api.update(rt, namespace, NAME, new, "", Ctx())
