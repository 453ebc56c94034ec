"""Authentication (bearer tokens) and RBAC authorization, as kube-apiserver does them.

Tokens the emulator issued for a ServiceAccount (TokenRequest: POST
`serviceaccounts/NAME/token`) and static tokens given to `ApiServer(tokens=...)` name a
user whose requests are authorized against the stored Roles, ClusterRoles, RoleBindings
and ClusterRoleBindings. Any other token (and no token) is the unrestricted admin, so
existing kubeconfigs keep working. Non-resource paths (discovery, /version, /healthz,
/openapi) are open to every authenticated user, as the default `system:discovery`
bindings make them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from .errors import ApiError
from .storage import Obj, Store

SA_PREFIX = "system:serviceaccount:"
TOKEN_PREFIX = "zenith-sa."
RBAC = "rbac.authorization.k8s.io"
ROLES, CLUSTER_ROLES = (RBAC, "roles"), (RBAC, "clusterroles")
ROLE_BINDINGS, CLUSTER_ROLE_BINDINGS = (RBAC, "rolebindings"), (RBAC, "clusterrolebindings")
SERVICE_ACCOUNTS = ("", "serviceaccounts")


@dataclass(frozen=True)
class User:
    """An authenticated user; `admin` skips authorization (system:masters)."""

    name: str
    groups: tuple[str, ...] = ()
    admin: bool = False
    sa_uid: str = ""  # a ServiceAccount token's owner: the token dies with that object


ADMIN = User("system:admin", ("system:masters", "system:authenticated"), admin=True)


def user_for(name: str, sa_uid: str = "") -> User:
    """A user by name; `system:serviceaccount:NS:NAME` gets the ServiceAccount groups."""
    if name.startswith(SA_PREFIX):
        ns = name[len(SA_PREFIX) :].split(":", 1)[0]
        groups = ("system:serviceaccounts", f"system:serviceaccounts:{ns}")
        return User(name, (*groups, "system:authenticated"), sa_uid=sa_uid)
    return User(name, ("system:authenticated",))


@dataclass(frozen=True)
class Attributes:
    """What a request asks for (RequestInfo): a verb on a resource, or on a path."""

    verb: str
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""  # set for non-resource requests


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def forbidden(user: User, a: Attributes) -> ApiError:
    """responsewriters.Forbidden's 403, worded as kube-apiserver words it."""
    if not a.resource:
        msg = f'forbidden: User "{user.name}" cannot {a.verb} path "{a.path}"'
        return ApiError(403, "Forbidden", msg, {})
    resource = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
    scope = f'in the namespace "{a.namespace}"' if a.namespace else "at the cluster scope"
    why = (
        f'User "{user.name}" cannot {a.verb} resource "{resource}" in API group "{a.group}" {scope}'
    )
    qualified = f"{a.resource}.{a.group}" if a.group else a.resource
    head = f'{qualified} "{a.name}"' if a.name else qualified
    details: dict[str, Any] = {"name": a.name} if a.name else {}
    if a.group:
        details["group"] = a.group
    details["kind"] = a.resource
    return ApiError(403, "Forbidden", f"{head} is forbidden: {why}", details)


class Authenticator:
    """Bearer tokens -> users: issued ServiceAccount tokens, static tokens, else admin."""

    def __init__(self, store: Store, static: dict[str, str] | None = None) -> None:
        self.store = store
        self.tokens: dict[str, User] = {t: user_for(n) for t, n in (static or {}).items()}

    def issue(self, namespace: str, name: str, uid: str) -> str:
        """A token for ServiceAccount NAMESPACE/NAME (valid while that object lives)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(24)
        self.tokens[token] = user_for(f"{SA_PREFIX}{namespace}:{name}", sa_uid=uid)
        return token

    def authenticate(self, authorization: str) -> User:
        token = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
        user = self.tokens.get(token)
        if user is None:
            if token.startswith(TOKEN_PREFIX):  # issued by an earlier run, or revoked
                raise unauthorized()
            return ADMIN
        if user.sa_uid and self.store.by_uid(user.sa_uid) is None:
            del self.tokens[token]  # its ServiceAccount was deleted
            raise unauthorized()
        return user


def _subject_matches(subject: Obj, user: User, binding_ns: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_ns
        return user.name == f"{SA_PREFIX}{ns}:{name}"
    if kind == "User":
        return user.name == name
    if kind == "Group":
        return name in user.groups
    return False


def _rule_allows(rule: Obj, a: Attributes) -> bool:
    verbs = rule.get("verbs") or []
    if "*" not in verbs and a.verb not in verbs:
        return False
    groups = rule.get("apiGroups") or []
    if "*" not in groups and a.group not in groups:
        return False
    combined = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
    resources = rule.get("resources") or []
    ok = (
        "*" in resources
        or combined in resources
        or (a.subresource and f"*/{a.subresource}" in resources)
        or (a.subresource and f"{a.resource}/*" in resources)
    )
    if not ok:
        return False
    names = rule.get("resourceNames") or []
    return not names or a.name in names


class Authorizer:
    """RBAC over the stored roles and bindings (no aggregation, no escalation checks)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def allowed(self, user: User, a: Attributes) -> bool:
        if user.admin or not a.resource:
            return True
        for binding in self.store.list_objs(CLUSTER_ROLE_BINDINGS):
            if self._binding_allows(binding, user, a, ""):
                return True
        if a.namespace:
            for binding in self.store.list_objs(ROLE_BINDINGS, a.namespace):
                if self._binding_allows(binding, user, a, a.namespace):
                    return True
        return False

    def _binding_allows(self, binding: Obj, user: User, a: Attributes, ns: str) -> bool:
        if not any(_subject_matches(s, user, ns) for s in binding.get("subjects") or []):
            return False
        ref = binding.get("roleRef") or {}
        if ref.get("kind") == "ClusterRole":
            role = self.store.get(CLUSTER_ROLES, "", ref.get("name", ""))
        elif ref.get("kind") == "Role" and ns:
            role = self.store.get(ROLES, ns, ref.get("name", ""))
        else:
            role = None
        return role is not None and any(_rule_allows(r, a) for r in role.get("rules") or [])
