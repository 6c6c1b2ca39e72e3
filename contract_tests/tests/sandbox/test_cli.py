"""``m3ter-sandbox serve`` with option values it cannot use: a usage error naming the option (exit 2), or for
an address it cannot listen on a one-line error (exit 1); never a traceback."""

from __future__ import annotations

import socket
from typing import NoReturn

import pytest
from m3ter_contract.sandbox import cli
from m3ter_contract.sandbox.cli import main


@pytest.fixture(autouse=True)
def never_serves(monkeypatch: pytest.MonkeyPatch) -> None:
    """A value wrongly accepted fails the test instead of serving until interrupted."""

    def serve(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError("the sandbox was about to serve")

    monkeypatch.setattr(cli, "make_server", serve)


@pytest.mark.parametrize(
    ("option", "says"),
    [
        (["--port", "99999"], "not a port"),
        (["--port", "-1"], "not a port"),
        (["--port", "abc"], "argument --port: must be a whole number, got 'abc'"),
        (["--url-lifetime", "soon"], "argument --url-lifetime: must be a number of seconds, got 'soon'"),
        (["--seed", "-1", "--port", "0"], "argument --seed: must be between 0 and 9223372036854775807, got -1"),
        (
            ["--seed", str(2**63), "--port", "0"],
            "argument --seed: must be between 0 and 9223372036854775807, got 9223372036854775808",
        ),
        (["--seed", "1.5"], "argument --seed: must be a whole number, got '1.5'"),
        (["--url-lifetime", "nan"], "finite number of seconds"),
        (["--url-lifetime", "0"], "finite number of seconds"),
        (["--rate-limit", "-5"], "below 0"),
        (["--rate-limit", "nan"], "argument --rate-limit: must be a whole number, got 'nan'"),
        (["--large-bill-line-items", "-1"], "must be between 0 and 100000, got -1"),
        (["--large-bill-line-items", "100001"], "must be between 0 and 100000, got 100001"),
        (["--log-level", "bogus"], "invalid choice"),
        (["--host", "", "--port", "0"], "argument --host: must not be empty"),
        (["--host", "\udcff", "--port", "0"], "argument --host: '\\udcff' is not a host name or an IP address"),
        (["--manual-clock", "--port", "0"], "--manual-clock needs --control: only POST /_sandbox/advance moves"),
    ],
)
def test_an_option_value_it_cannot_use_is_a_usage_error(
    option: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["serve", *option])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert says in err
    assert "Traceback" not in err


def test_a_port_already_taken_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port), "--json"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"m3ter-sandbox: cannot listen on 127.0.0.1 port {port}: ")
    assert err.count("\n") == 1


def test_the_largest_bill_allowed_is_the_benchmarks_largest(monkeypatch: pytest.MonkeyPatch) -> None:
    """benchmarks/large_bill.py reads bills of up to 100,000 line items: the sandbox still builds one."""
    built: list[object] = []

    class Built(Exception):
        pass

    def sandbox(**options: object) -> NoReturn:
        built.append(options["large_bill_line_items"])
        raise Built

    monkeypatch.setattr(cli, "Sandbox", sandbox)
    with pytest.raises(Built):
        main(["serve", "--port", "0", "--large-bill-line-items", "100000"])
    assert built == [100_000]
