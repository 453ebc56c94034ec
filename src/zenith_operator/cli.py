"""`zenith-operator` entry point: one executable, several roles (operator, agent, crds...).

Each role lives in its own package and exposes `main(argv) -> int`; this module only
dispatches, importing the role lazily so the agent image need not load kopf. Other
distributions add roles through the `zenith_operator.roles` entry-point group (the
sandbox's `apiserver`, `runtime` and `sandbox`): this package never imports them by name.
A role whose optional extra is not installed (the `kubectl-zenith` plugin: the kubernetes
client) says which `pip install` brings it.
"""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import entry_points

ROLES: dict[str, tuple[str, str]] = {
    "run": ("zenith_operator.controller.run", "run the operator (kopf) against the cluster"),
    "agent": ("zenith_operator.agent.main", "run the in-pod database agent"),
    "crds": ("zenith_operator.api.crd", "print or write the generated CRD"),
}
PLUGIN_GROUP = "zenith_operator.roles"
# a top-level module only an optional extra of zenith-operator installs -> that extra
# (the agent's postgres engine says so itself: its module is loaded late)
EXTRAS = {"psycopg": "agent", "kubernetes": "kubectl"}


def all_roles() -> dict[str, tuple[str, str]]:
    """The built-in roles plus those installed distributions register in PLUGIN_GROUP."""
    roles = dict(ROLES)
    for ep in entry_points(group=PLUGIN_GROUP):
        source = ep.dist.name if ep.dist is not None else "a plug-in"
        roles.setdefault(ep.name, (ep.value, f"(from {source})"))
    return roles


def usage(roles: dict[str, tuple[str, str]]) -> str:
    lines = ["usage: zenith-operator ROLE [ARGS...]", "", "roles:"]
    lines += [f"  {name:<10} {help_}" for name, (_, help_) in roles.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    roles = all_roles()
    if not args or args[0] in {"-h", "--help", "help"}:
        print(usage(roles))
        return 0 if args else 2
    role, rest = args[0], args[1:]
    if role not in roles:
        print(
            f"zenith-operator: unknown role {role!r} (the sandbox's roles come with the "
            f"zenith-sandbox distribution: pip install ./sandbox)\n\n{usage(roles)}",
            file=sys.stderr,
        )
        return 2
    return run_role(f"zenith-operator {role}", roles[role][0], rest)


def run_role(prog: str, module_name: str, argv: list[str]) -> int:
    """`module_name.main(argv)`; 1 with a message when the module's extra is missing."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        extra = EXTRAS.get((exc.name or "").split(".")[0])
        if extra is None:
            raise
        print(f"{prog}: needs {exc.name}: pip install 'zenith-operator[{extra}]'", file=sys.stderr)
        return 1
    result: int = module.main(argv)
    return result


def kubectl(argv: list[str] | None = None) -> int:
    """`kubectl-zenith`, the kubectl plugin (the `kubectl` extra)."""
    args = sys.argv[1:] if argv is None else argv
    return run_role("kubectl-zenith", "zenith_operator.kubectl_plugin.main", args)


if __name__ == "__main__":
    sys.exit(main())
