import pytest

from zenith_operator.controller import run


def test_both_handler_modules_load() -> None:
    assert run.load_handlers() == [
        "zenith_operator.controller.handlers",
        "zenith_operator.controller.ha_daemon",
    ]


def test_a_missing_handler_module_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run, "HANDLER_MODULES", ("zenith_operator.controller.no_such_module",))
    with pytest.raises(ModuleNotFoundError):
        run.load_handlers()
