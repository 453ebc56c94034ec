import importlib
import importlib.util

import pytest

from zenith_operator import cli


def test_help_lists_every_role(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for role in cli.ROLES:
        assert role in out


def test_no_arguments_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "usage" in capsys.readouterr().out


def test_unknown_role_is_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["frobnicate"]) == 2
    assert "unknown role 'frobnicate'" in capsys.readouterr().err


@pytest.mark.parametrize("role", sorted(cli.ROLES))
def test_every_role_module_exists_with_main(role: str) -> None:
    module_name = cli.ROLES[role][0]
    assert importlib.util.find_spec(module_name) is not None, module_name
    module = importlib.import_module(module_name)
    assert callable(module.main)
