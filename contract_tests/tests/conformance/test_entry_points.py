"""The console scripts: a Ctrl-C while a command's modules load ends with one line and exit 130, not a
``KeyboardInterrupt`` traceback (``m3ter_contract.entry_points``)."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

import pytest
from m3ter_contract import entry_points


class _CtrlCOnImport(importlib.abc.MetaPathFinder):
    """Raises KeyboardInterrupt when ``name`` is imported, as a Ctrl-C arriving during that import would."""

    def __init__(self, name: str) -> None:
        self.name = name

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == self.name:
            raise KeyboardInterrupt
        return None


@pytest.mark.parametrize(
    ("command", "module", "name"),
    [
        (entry_points.conformance, "m3ter_contract.conformance.command", "m3ter-conformance"),
        (entry_points.sandbox, "m3ter_contract.sandbox.cli", "m3ter-sandbox"),
    ],
)
def test_ctrl_c_while_the_command_loads_is_one_line_and_exit_130(
    command: Callable[[], int],
    module: str,
    name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.setattr(sys, "meta_path", [_CtrlCOnImport(module), *sys.meta_path])
    assert command() == 130
    assert capsys.readouterr().err == f"{name}: interrupted (Ctrl-C)\n"


def test_the_console_scripts_are_these_functions() -> None:
    from importlib.metadata import entry_points as installed

    scripts = {ep.name: ep.value for ep in installed(group="console_scripts") if ep.name.startswith("m3ter-")}
    assert scripts == {
        "m3ter-conformance": "m3ter_contract.entry_points:conformance",
        "m3ter-sandbox": "m3ter_contract.entry_points:sandbox",
    }
