"""Checks an image's virtualenv (the Dockerfile's build stages run it).

Every module of zenith_operator imports, except those needing an optional extra that is not
installed (cli.EXTRAS); the operator role (`run` and its kopf handlers) always imports.
Fails when a distribution that must stay out is installed: the sandbox's, the kubernetes
client, and those named as arguments (`image_check.py psycopg psycopg-binary`).
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import pkgutil
import sys

import zenith_operator
from zenith_operator.cli import EXTRAS
from zenith_operator.controller import run

NEVER = {"zenith-sandbox", "cel-python", "jsonschema", "kubernetes"}


def main(argv: list[str]) -> int:
    installed = {str(d.metadata["Name"]).lower() for d in md.distributions()}
    present = installed & (NEVER | {a.lower() for a in argv})
    if present:
        print(f"image_check: must not be installed: {sorted(present)}", file=sys.stderr)
        return 1
    run.load_handlers()
    skipped = []
    for info in pkgutil.walk_packages(zenith_operator.__path__, "zenith_operator."):
        if info.name.endswith("__main__"):
            continue
        try:
            importlib.import_module(info.name)
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] not in EXTRAS:
                raise
            skipped.append(f"{info.name} ({exc.name})")
    print(f"image_check: all modules import; without their extra: {skipped or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
