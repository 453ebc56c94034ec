import importlib
import importlib.util

import pytest

from zenith_operator import cli

SANDBOX_ROLES = {"apiserver", "runtime", "sandbox"}


def test_help_lists_every_role(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for role in cli.all_roles():
        assert role in out


def test_no_arguments_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "usage" in capsys.readouterr().out


def test_unknown_role_is_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["frobnicate"]) == 2
    assert "unknown role 'frobnicate'" in capsys.readouterr().err


def test_the_sandbox_roles_come_from_the_sandbox_distribution() -> None:
    roles = cli.all_roles()
    assert set(roles) >= SANDBOX_ROLES
    assert not SANDBOX_ROLES & set(cli.ROLES)
    assert all(roles[r][0].startswith("zenith_sandbox.") for r in SANDBOX_ROLES)


@pytest.mark.parametrize("role", sorted(cli.all_roles()))
def test_every_role_module_exists_with_main(role: str) -> None:
    module_name = cli.all_roles()[role][0]
    assert importlib.util.find_spec(module_name) is not None, module_name
    module = importlib.import_module(module_name)
    assert callable(module.main)
