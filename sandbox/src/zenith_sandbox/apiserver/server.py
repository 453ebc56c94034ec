"""aiohttp application: URL routing onto discovery, the REST verbs and watch."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

import yaml
from aiohttp import web

from . import auth, discovery, errors, meta, openapi, tables
from .errors import ApiError
from .resources import ResourceType
from .rest import Api, Ctx
from .watch import serve_watch, wait_until_fresh

log = logging.getLogger(__name__)
_NS_SUBRESOURCES = ("status", "finalize")


@dataclass
class Route:
    """A parsed resource URL."""

    rt: ResourceType
    namespace: str | None
    name: str
    sub: str
    watch_path: bool


def _verb_name(method: str, r: Route, ctx: Ctx) -> str:
    """The real API server's verb label: GET, LIST, WATCH, POST, PUT, PATCH, DELETE."""
    if method == "GET" and not r.name:
        watching = r.watch_path or ctx.query.get("watch") in ("true", "1")
        return "WATCH" if watching else "LIST"
    return method


def _json(body: Any, status: int = 200, warnings: list[str] | None = None) -> web.Response:
    headers = {}
    if warnings:
        headers["Warning"] = ", ".join(f"299 - {json.dumps(w)}" for w in warnings)
    text = json.dumps(body, separators=(",", ":"))
    return web.Response(text=text, status=status, content_type="application/json", headers=headers)


class App:
    """Routes requests for one Api; `bookmark_interval` paces watch BOOKMARK events."""

    def __init__(
        self, api: Api, bookmark_interval: float = 60.0, tokens: dict[str, str] | None = None
    ) -> None:
        self.api = api
        self.bookmark_interval = bookmark_interval
        self.authn = auth.Authenticator(api.store, tokens)
        self.authz = auth.Authorizer(api.store)
        self.address = "127.0.0.1:0"
        self.web = web.Application(client_max_size=64 * 1024 * 1024)
        self.web.router.add_route("*", "/{tail:.*}", self.handle)
        self._serving = asyncio.Event()
        self._serving.set()
        self.requests: Counter[tuple[str, str]] = Counter()  # (verb, resource) -> count

    def pause(self) -> None:
        """Hold every new request until `resume`, as a stopped or cut-off API server."""
        self._serving.clear()

    def resume(self) -> None:
        self._serving.set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if not self._serving.is_set():
            await self._serving.wait()
        try:
            return await self._dispatch(request)
        except ApiError as e:
            return _json(e.status(), e.code)
        except Exception as e:  # the server keeps serving; the client sees a 500 Status
            log.exception("internal error on %s %s", request.method, request.path)
            return _json(
                ApiError(500, "InternalError", f"Internal error occurred: {e}", {}).status(), 500
            )

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        user = self.authn.authenticate(request.headers.get("Authorization", ""))
        if request.method == "GET":
            doc = self._discovery(parts)
            if doc is not None:
                return _json(doc)
        if parts in (["healthz"], ["readyz"], ["livez"]):
            return web.Response(text="ok")
        if parts == ["metrics"] and request.method == "GET":
            return web.Response(text=self.metrics(), content_type="text/plain")
        route = self._route(parts)
        if route is None:
            raise errors.path_not_found()
        attrs = _attributes(request, route)
        if not self.authz.allowed(user, attrs):
            raise auth.forbidden(user, attrs)
        return await self._verb(request, route)

    def _discovery(self, parts: list[str]) -> Any:
        registry = self.api.registry
        if parts == ["version"]:
            return discovery.VERSION
        if parts == ["api"]:
            return discovery.api_versions(self.address)
        if parts == ["apis"]:
            return discovery.api_group_list(registry)
        if parts == ["openapi", "v3"]:
            return openapi.index(registry)
        if len(parts) in (4, 5) and parts[:2] == ["openapi", "v3"]:
            group, version = ("", parts[3]) if parts[2] == "api" else (parts[3], parts[4])
            if len(parts) == 4 and parts[2] != "api":
                return _missing()
            return openapi.group_version_doc(registry, group, version) or _missing()
        if len(parts) == 2 and parts[0] == "api":
            return discovery.resource_list(registry, "", parts[1]) or _missing()
        if len(parts) == 2 and parts[0] == "apis":
            return discovery.api_group(registry, parts[1]) or _missing()
        if len(parts) == 3 and parts[0] == "apis":
            return discovery.resource_list(registry, parts[1], parts[2]) or _missing()
        return None

    def _route(self, parts: list[str]) -> Route | None:
        if len(parts) >= 2 and parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        watch_path = bool(rest) and rest[0] == "watch"
        if watch_path:
            rest = rest[1:]
        namespace: str | None = None
        if (
            len(rest) >= 3
            and rest[0] == "namespaces"
            and not (len(rest) == 3 and rest[2] in _NS_SUBRESOURCES)
        ):
            namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 3:
            return None
        rt = self.api.registry.get(group, version, rest[0])
        if rt is None or (namespace is not None and not rt.namespaced):
            return None
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if sub and sub not in rt.subresources:
            return None
        return Route(rt, namespace, name, sub, watch_path)

    async def _body(self, request: web.Request) -> Any:
        raw = await request.read()
        ctype = request.content_type
        if "protobuf" in ctype:
            raise errors.protobuf_unsupported()
        if not raw:
            return None
        try:
            if "yaml" in ctype:
                return yaml.safe_load(raw)
            return json.loads(raw)
        except (ValueError, yaml.YAMLError) as e:
            raise errors.bad_request(f"the body of the request could not be decoded: {e}") from e

    def metrics(self) -> str:
        """Request counts in the real API server's metric: apiserver_request_total."""
        lines = ["# TYPE apiserver_request_total counter"]
        for (verb, resource), n in sorted(self.requests.items()):
            lines.append(f'apiserver_request_total{{verb="{verb}",resource="{resource}"}} {n}')
        return "\n".join(lines) + "\n"

    async def _verb(self, request: web.Request, r: Route) -> web.StreamResponse:
        api, rt = self.api, r.rt
        ctx = Ctx(dict(request.query))
        ns = r.namespace or ""
        method = request.method
        self.requests[(_verb_name(method, r, ctx), r.rt.plural)] += 1
        if method == "GET" and not r.name:
            if r.watch_path or ctx.query.get("watch") in ("true", "1"):
                return await serve_watch(request, api, rt, r.namespace, ctx, self.bookmark_interval)
            rv = ctx.query.get("resourceVersion", "")
            if rv.isdigit() and int(rv) > 0:  # "not older than": wait briefly, then 504
                await wait_until_fresh(api, int(rv))
            listed = api.list(rt, r.namespace, ctx)
            if tables.wants_table(request.headers.get("Accept", "")):
                t = tables.table(
                    rt,
                    listed["items"],
                    listed["metadata"]["resourceVersion"],
                    ctx.query.get("includeObject", "Metadata"),
                )
                t["metadata"] = listed["metadata"]
                return _json(t)
            return _json(listed)
        if method == "GET":
            obj = api.find(rt, ns, r.name)
            if not r.sub and tables.wants_table(request.headers.get("Accept", "")):
                rv = obj["metadata"]["resourceVersion"]
                return _json(
                    tables.table(rt, [obj], rv, ctx.query.get("includeObject", "Metadata"))
                )
            return _json(api.view(rt, obj, r.sub))
        if r.namespace is None and rt.namespaced:
            raise errors.path_not_found()
        if method == "POST" and not r.name:
            obj = api.create(rt, ns, await self._body(request), ctx)
            return _json(obj, 201, ctx.warnings)
        if method == "POST" and r.sub == "token":
            return _json(self._token(r, await self._body(request)), 201)
        if method == "POST" and r.sub == "binding":
            return _json(self._bind(r, await self._body(request), ctx), 201)
        if method == "PUT" and r.name:
            code, obj = api.update(rt, ns, r.name, await self._body(request), r.sub, ctx)
            return _json(obj, code, ctx.warnings)
        if method == "PATCH" and r.name:
            code, obj = api.patch(
                rt,
                ns,
                r.name,
                await request.read(),
                request.headers.get("Content-Type", ""),
                r.sub,
                ctx,
            )
            return _json(obj, code, ctx.warnings)
        if method == "DELETE":
            opts = await self._body(request) or {}
            for key in ("gracePeriodSeconds", "propagationPolicy", "orphanDependents"):
                if key in ctx.query:
                    value: Any = ctx.query[key]
                    if key == "gracePeriodSeconds":
                        value = int(value)
                    elif key == "orphanDependents":
                        value = value == "true"
                    opts[key] = value
            if r.name and not r.sub:
                code, obj = api.delete(rt, ns, r.name, opts, ctx)
                return _json(obj, code)
            if not r.name:
                return _json(api.delete_collection(rt, r.namespace, opts, ctx))
        raise errors.method_not_allowed()

    def _token(self, r: Route, body: Any) -> Any:
        """serviceaccounts/token (TokenRequest): a token authenticating as that account."""
        sa = self.api.find(r.rt, r.namespace or "", r.name)
        spec = dict((body or {}).get("spec") or {})
        seconds = int(spec.get("expirationSeconds") or 3600)
        spec.setdefault("audiences", ["https://kubernetes.default.svc"])
        spec["expirationSeconds"] = seconds
        token = self.authn.issue(r.namespace or "", r.name, sa["metadata"]["uid"])
        return {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": r.name, "namespace": r.namespace, "creationTimestamp": None},
            "spec": spec,
            "status": {"token": token, "expirationTimestamp": meta.now(seconds)},
        }

    def _bind(self, r: Route, body: Any, ctx: Ctx) -> Any:
        """pods/binding: set spec.nodeName once, as the scheduler does."""
        api, rt = self.api, r.rt
        pod = api.find(rt, r.namespace or "", r.name)
        node = ((body or {}).get("target") or {}).get("name", "")
        current = pod.get("spec", {}).get("nodeName")
        if current:
            msg = (
                f'Operation cannot be fulfilled on pods/binding "{r.name}": pod {r.name} is '
                f'already assigned to node "{current}"'
            )
            raise ApiError(409, "Conflict", msg, {"name": r.name, "kind": "pods/binding"})
        new = meta.deep(pod)
        new["spec"]["nodeName"] = node
        api.update(rt, r.namespace or "", r.name, new, "", Ctx(ctx.query, internal=True))
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "code": 201,
        }


def _attributes(request: web.Request, r: Route) -> auth.Attributes:
    """RequestInfo: the verb and what it acts on (a namespace's own namespace is itself)."""
    method = request.method
    watch = r.watch_path or request.query.get("watch") in ("true", "1")
    if method == "GET":
        verb = "watch" if watch else ("get" if r.name else "list")
    elif method == "DELETE":
        verb = "delete" if r.name else "deletecollection"
    else:
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, method.lower())
    namespace = r.namespace or ""
    if r.rt.key == ("", "namespaces") and r.name:
        namespace = r.name
    return auth.Attributes(verb, r.rt.group, r.rt.plural, r.sub, namespace, r.name)


def _missing() -> Any:
    raise errors.path_not_found()
