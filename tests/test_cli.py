"""The command line's parsing and help (no network)."""

from __future__ import annotations

import pytest

from ssdp_upnp.cli import _table, parser


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["search", "--help"], ["peers", "--help"], ["advertise", "--help"],
     ["nat", "--help"], ["nat", "add", "--help"], ["nat", "remove", "--help"],
     ["nat", "list", "--help"], ["nat", "status", "--help"], ["nat", "external-ip", "--help"]],
)  # fmt: skip
def test_help_for_everything(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parser().parse_args(argv)
    assert exited.value.code == 0
    assert "usage: ssdp-upnp" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [[], ["bogus"], ["peers"], ["advertise", "--product", "x"], ["nat"], ["nat", "add"],
     ["nat", "add", "http"], ["search", "--mx", "9"]],
)  # fmt: skip
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parser().parse_args(argv)
    assert exited.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_json_flag_before_or_after_the_command() -> None:
    assert parser().parse_args(["--json", "nat", "list"]).json is True
    assert parser().parse_args(["nat", "list", "--json"]).json is True
    assert parser().parse_args(["nat", "list"]).json is False


def test_table() -> None:
    text = _table([{"a": 1, "b": None}, {"a": "long value", "b": "x"}], ["a", "b"])
    assert text.splitlines() == ["A           B", "1", "long value  x"]
    assert _table([], ["a"]) == "(none)"
