"""Module sizes and import circles of the product and the sandbox (`make layout`).

Prints every module with its line count, largest first, then the import circles. Every
import counts, also one inside a function or under `if TYPE_CHECKING:`, and a literal
`importlib.import_module("...")`. Exits 1 when there is a circle, or a module over
LIMIT lines whose docstring does not say why in a paragraph starting "Length:".
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (ROOT / "src" / "zenith_operator", ROOT / "sandbox" / "src" / "zenith_sandbox")
LIMIT = 400
REASON = re.compile(r"^Length: \S", re.MULTILINE)
# Modules another branch is cutting up right now; the reason stands in for the docstring's.
PENDING: dict[str, str] = {}


@dataclass
class Module:
    name: str
    path: Path
    lines: int
    explained: bool
    imports: set[str] = field(default_factory=set)


def module_name(package_dir: Path, path: Path) -> str:
    parts = [package_dir.name, *path.relative_to(package_dir).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def scan(package_dirs: Iterable[Path]) -> dict[str, Module]:
    """Every module under `package_dirs` with its size, its docstring's reason and imports."""
    found: dict[str, tuple[Module, ast.Module]] = {}
    for package_dir in package_dirs:
        for path in sorted(package_dir.rglob("*.py")):
            text = path.read_text()
            tree = ast.parse(text, str(path))
            doc = ast.get_docstring(tree) or ""
            lines = len(text.splitlines())
            mod = Module(module_name(package_dir, path), path, lines, bool(REASON.search(doc)))
            found[mod.name] = (mod, tree)
    known = set(found)
    for mod, tree in found.values():
        is_package = mod.path.name == "__init__.py"
        mod.imports = {t for t in imported(tree, mod.name, is_package, known) if t != mod.name}
    return {name: mod for name, (mod, _) in found.items()}


def imported(tree: ast.Module, name: str, is_package: bool, known: set[str]) -> set[str]:
    """The known modules `tree` imports; `from P import x` names P.x when that is a module."""
    out: set[str] = set()

    def add(target: str) -> None:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target:
            out.add(target)

    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                add(full if full in known else base)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            add(node.args[0].value)
    return out


def circles(modules: dict[str, Module]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(modules[v].imports):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group: list[str] = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(modules):
        if v not in index:
            visit(v)
    return sorted(groups)


def problems(modules: dict[str, Module]) -> list[str]:
    """What `make layout` fails on: circles, and big modules that do not say why."""
    out = [f"import circle: {' <-> '.join(group)}" for group in circles(modules)]
    out += [
        f"{m.name}: {m.lines} lines and no 'Length:' reason in its docstring"
        for m in modules.values()
        if m.lines > LIMIT and not m.explained and m.name not in PENDING
    ]
    return out


def report(modules: dict[str, Module]) -> str:
    rows = sorted(modules.values(), key=lambda m: (-m.lines, m.name))
    lines = [f"{'lines':>6}  module"]
    for m in rows:
        note = ""
        if m.lines > LIMIT:
            why = PENDING.get(m.name) or ("reason in docstring" if m.explained else "NO REASON")
            note = f"  (over {LIMIT}: {why})"
        lines.append(f"{m.lines:>6}  {m.name}{note}")
    for top in sorted({m.name.split(".")[0] for m in rows}):
        total = sum(m.lines for m in rows if m.name.split(".")[0] == top)
        lines.append(f"{total:>6}  {top} (total)")
    found = circles(modules)
    lines.append("import circles: " + ("none" if not found else str(len(found))))
    return "\n".join(lines)


def main() -> int:
    modules = scan(PACKAGES)
    print(report(modules))
    bad = problems(modules)
    for line in bad:
        print(line, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
