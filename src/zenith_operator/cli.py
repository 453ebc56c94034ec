"""`zenith-operator` entry point: one executable, several roles (operator, agent, sandbox...).

Each role lives in its own package and exposes `main(argv) -> int`; this module only
dispatches, importing the role lazily so the agent image need not load kopf.
"""

from __future__ import annotations

import importlib
import sys

ROLES: dict[str, tuple[str, str]] = {
    "run": ("zenith_operator.controller.run", "run the operator (kopf) against the cluster"),
    "agent": ("zenith_operator.agent.main", "run the in-pod database agent"),
    "apiserver": ("zenith_sandbox.apiserver.main", "serve the Kubernetes API emulator"),
    "runtime": ("zenith_sandbox.runtime.main", "run the local pod runtime"),
    "sandbox": ("zenith_sandbox.cli", "the local sandbox: up, down, demo"),
    "crds": ("zenith_operator.api.crd", "print or write the generated CRD"),
}


def usage() -> str:
    lines = ["usage: zenith-operator ROLE [ARGS...]", "", "roles:"]
    lines += [f"  {name:<10} {help_}" for name, (_, help_) in ROLES.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in {"-h", "--help", "help"}:
        print(usage())
        return 0 if args else 2
    role, rest = args[0], args[1:]
    if role not in ROLES:
        print(f"zenith-operator: unknown role {role!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(ROLES[role][0])
    result: int = module.main(rest)
    return result


if __name__ == "__main__":
    sys.exit(main())
