"""`zenith-operator` entry point: one executable, several roles (operator, agent, crds...).

Each role lives in its own package and exposes `main(argv) -> int`; this module only
dispatches, importing the role lazily so the agent image need not load kopf. Other
distributions add roles through the `zenith_operator.roles` entry-point group (the
sandbox's `apiserver`, `runtime` and `sandbox`): this package never imports them by name.
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
    module = importlib.import_module(roles[role][0])
    result: int = module.main(rest)
    return result


if __name__ == "__main__":
    sys.exit(main())
