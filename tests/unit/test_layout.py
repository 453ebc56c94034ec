"""The package layout: the product never loads the sandbox, no import circles, and no
module over the size limit without a stated reason (hack/layout.py, `make layout`)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from importlib.metadata import requires
from pathlib import Path
from types import ModuleType

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
# cel-python (celpy, lark) serves only the emulator. jsonschema may be loaded here all the
# same: the kubernetes client imports kubernetes-validate (a dev extra) when installed.
SANDBOX_ONLY = {"zenith_sandbox", "celpy", "lark"}

# Imports every module of the product, as the operator and agent images would.
IMPORT_ALL = """
import importlib, json, pkgutil, sys
import zenith_operator.controller, zenith_operator.agent
import zenith_operator
for info in pkgutil.walk_packages(zenith_operator.__path__, "zenith_operator."):
    if info.name != "zenith_operator.__main__":
        importlib.import_module(info.name)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def load_layout() -> ModuleType:
    spec = importlib.util.spec_from_file_location("layout", ROOT / "hack" / "layout.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["layout"] = module
    spec.loader.exec_module(module)
    return module


def test_the_product_imports_nothing_from_the_sandbox() -> None:
    out = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(json.loads(out))
    assert "zenith_operator" in loaded
    assert not loaded & SANDBOX_ONLY


def installs(dist: str, *extras: str) -> set[str]:
    """The distributions `pip install dist[extras]` pulls in, from installed metadata."""
    seen: set[str] = set()
    todo = [(canonicalize_name(dist), frozenset(extras))]
    while todo:
        name, extras = todo.pop()
        if name in seen and not extras:
            continue
        seen.add(name)
        for line in requires(name) or []:
            req = Requirement(line)
            envs = [{"extra": e} for e in extras] or [{"extra": ""}]
            if req.marker is None or any(req.marker.evaluate(env) for env in envs):
                todo.append((canonicalize_name(req.name), frozenset(req.extras)))
    return seen


def test_installing_the_product_pulls_no_sandbox_dependency_and_no_kubernetes_client() -> None:
    closure = installs("zenith-operator")
    assert {"kopf", "urllib3", "aiohttp"} <= closure
    assert not closure & {"zenith-sandbox", "cel-python", "lark", "jsonschema"}
    # the operator image: no kubernetes client (kopf's login + urllib3), no psycopg (agent)
    assert not closure & {"kubernetes", "psycopg", "psycopg-binary"}
    assert "psycopg" in installs("zenith-operator", "agent")
    assert "kubernetes" in installs("zenith-operator", "kubectl")
    assert {"zenith-operator", "cel-python", "jsonpatch"} <= installs("zenith-sandbox")


def test_the_operator_role_loads_neither_psycopg_nor_the_kubernetes_client() -> None:
    script = (
        "import sys; sys.modules.update(kubernetes=None, psycopg=None)\n"
        "from zenith_operator.controller import run; run.load_handlers()\n"
        "from zenith_operator import cli; assert cli.kubectl(['status', 'pair']) == 1\n"
        "from types import SimpleNamespace\n"
        "from zenith_operator.agent import main\n"
        "main.make_engine(SimpleNamespace(engine='postgres'))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 1
    assert "kubectl-zenith: needs kubernetes: pip install 'zenith-operator[kubectl]'" in done.stderr
    message = "the postgres engine needs psycopg: pip install 'zenith-operator[agent]'"
    assert f"EngineError: {message}" in done.stderr


def test_a_circle_through_a_type_checking_import_is_found(tmp_path: Path) -> None:
    layout = load_layout()
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import X\n"
    )
    (pkg / "c.py").write_text("import importlib\nimportlib.import_module('pkg.d')\n")
    (pkg / "d.py").write_text('"""Length: a test."""\n' + "def f():\n    from .c import g\n" * 140)
    modules = layout.scan([pkg])
    assert layout.circles(modules) == [["pkg.a", "pkg.b"], ["pkg.c", "pkg.d"]]
    assert not [p for p in layout.problems(modules) if "Length" in p]
    (pkg / "d.py").write_text("x = 1\n" * (layout.LIMIT + 1))
    assert any("pkg.d" in p and "Length" in p for p in layout.problems(layout.scan([pkg])))


def test_no_import_circles_and_big_modules_say_why() -> None:
    layout = load_layout()
    modules = layout.scan(layout.PACKAGES)
    assert {"zenith_operator.cli", "zenith_sandbox.cli"} <= set(modules)
    assert layout.problems(modules) == []
