"""The Dockerfile's two images: the operator target has no database server, the database
target adds PostgreSQL and the `agent` extra, and only the product (never the sandbox)
goes in either."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from zenith_operator.api.spec import DEFAULT_IMAGE

ROOT = Path(__file__).resolve().parents[2]


def stages() -> dict[str, tuple[str, str]]:
    """Stage name -> (the stage it is built FROM, its instructions)."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    out: dict[str, tuple[str, str]] = {}
    name = ""
    for line in text.splitlines():
        if m := re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.IGNORECASE):
            name = m.group(2) or f"stage{len(out)}"
            out[name] = (m.group(1), "")
        elif name and not line.lstrip().startswith("#"):
            base, body = out[name]
            out[name] = (base, body + line + "\n")
    return out


def chain(name: str) -> str:
    """The instructions of a stage and of every stage it is built from."""
    all_stages = stages()
    body = ""
    while name in all_stages:
        base, text = all_stages[name]
        body = text + body
        name = base
    return body


def make_var(name: str) -> str:
    m = re.search(rf"^{name} \?= (\S+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert m, name
    return m.group(1)


def test_two_targets_and_the_default_is_the_database_image() -> None:
    names = list(stages())
    assert {"operator", "database"} <= set(names)
    assert names[-1] == "database"


def test_the_operator_image_installs_no_database_server() -> None:
    operator = chain("operator")
    assert "apt-get install" not in operator
    assert "postgresql" not in operator.lower()
    assert 'CMD ["run"]' in stages()["operator"][1]


def test_the_database_image_adds_postgresql() -> None:
    assert re.search(r"apt-get install .*postgresql-\$\{PG_MAJOR\}", chain("database"))
    assert "ZENITH_PG_BINDIR" in chain("database")


def test_only_the_product_is_installed_with_psycopg_in_the_database_image_only() -> None:
    installs = {
        name: [i.strip() for i in re.findall(r"pip install ([^&\n]*)", body)]
        for name, (_, body) in stages().items()
    }
    assert {k: v for k, v in installs.items() if v} == {
        "build-operator": ["."],
        "build-database": ['".[agent]"'],  # psycopg: only the agent needs it
    }
    assert "COPY --from=build-operator /opt/zenith" in stages()["operator"][1]
    assert "COPY --from=build-database /opt/zenith" in stages()["database"][1]
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    context = [line for line in lines if line and not line.startswith("#")]
    assert context[0] == "*" and "!src/" in context  # an allow-list: no sandbox/, no tests/
    assert not [line for line in context if "sandbox" in line or "tests" in line]


def test_deploy_and_spec_defaults_name_the_two_images() -> None:
    operator_image, database_image = make_var("IMAGE"), make_var("DATABASE_IMAGE")
    assert operator_image != database_image
    deployment = next(
        d
        for d in yaml.safe_load_all((ROOT / "deploy" / "operator.yaml").read_text())
        if d and d["kind"] == "Deployment"
    )
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert [c["image"] for c in containers] == [operator_image]
    assert database_image == DEFAULT_IMAGE
