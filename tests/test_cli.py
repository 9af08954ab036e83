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
     ["nat", "add", "http"], ["search", "--mx", "9"], ["nat", "add", "8048", "--method", "x"]],
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


@pytest.mark.parametrize(
    "argv, message",
    [
        (["nat", "add", "70000"], "INTERNAL must be in 1..65535"),
        (["nat", "add", "8048", "0"], "EXTERNAL must be in 1..65535"),
        (["nat", "add", "8048", "--lease", "-5"], "--lease must be a whole number"),
        (["nat", "remove", "x"], "EXTERNAL must be a whole number"),
        (["nat", "list", "--gateway-url", "https://r/"], "not an http:// URL"),
        (["search", "--timeout", "-1"], "--timeout must be over 0"),
        (["search", "--timeout", "nan"], "--timeout must be over 0"),
        (["search", "--timeout", "soon"], "--timeout must be a number"),
        (["search", "--st", ""], "--st must not be empty"),
        (["search", "--st", "a\x01b"], "control character"),
        (["peers", "--product", "block chain"], "product 'block chain'"),
        (["peers", "--product", "b", "--network", "x y"], "network 'x y'"),
        (["peers", "--product", "b", "--wanted", "0"], "--wanted must be in 1..1024"),
        (["advertise", "--product", "b", "--port", "8048", "--uuid", "nope"], "not a uuid"),
        (["advertise", "--product", "b", "--port", "8048", "--duration", "-3"], "--duration"),
        (["search", "--interface", "wlan9"], "no IPv4 or IPv6 interface 'wlan9'"),
        (["search", "--ipv4-only", "--interface", "wlan9"], "no IPv4 interface 'wlan9'"),
        # an address is looked for among the interfaces' addresses, which are then listed
        (["search", "--interface", "203.0.113.77"], "interface '203.0.113.77'; this host has: "),
    ],
)
def test_bad_arguments_exit_2_before_anything_is_opened(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ssdp_upnp import _cli_commands, cli

    def no_reactor(*args: object) -> None:
        raise AssertionError("the reactor ran: something may have been sent")

    monkeypatch.setattr(_cli_commands, "react", no_reactor)
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1  # one line


def test_the_search_table_is_narrow_unless_verbose() -> None:
    from ssdp_upnp._cli_commands import _search_rows

    usn = "uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427::urn:ssdp-upnp-org:device:blockchain:1"
    found = [{"host": "198.51.100.11", "st": "urn:ssdp-upnp-org:device:blockchain:1",
              "usn": usn, "location": "http://198.51.100.11:40000/description.xml" + "x" * 60,
              "server": "Linux/1 UPnP/1.1 ssdp_upnp/1.0.0a1" + "y" * 40, "seen_as": "response"},
             {"host": "198.51.100.13", "st": "", "usn": "", "seen_as": "legacy",
              "location": "blockchain_main://127.0.1.1:8048",
              "server": "ssdp-upnp 0.1.0"}]  # fmt: skip
    rows, columns = _search_rows(found, verbose=False)
    text = _table(rows, columns)
    assert max(len(line) for line in text.splitlines()) < 100
    assert "device:blockchain:1" in text and "1b4e28ba-2fa1-11d2-883f-0016d3cca427" in text
    assert "ssdp-upnp 0.1.0 node" in text
    rows, columns = _search_rows(found, verbose=True)
    assert columns == ["host", "st", "usn", "location", "server"]


def test_errors_under_json_are_json_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse
    import json

    from ssdp_upnp._cli_commands import _fail
    from ssdp_upnp.errors import NoGatewayFound

    with pytest.raises(SystemExit) as exited:
        _fail(argparse.Namespace(json=True), NoGatewayFound("no usable gateway found"))
    assert exited.value.code == 1
    assert json.loads(capsys.readouterr().err) == {
        "error": "NoGatewayFound", "message": "no usable gateway found",
    }  # fmt: skip


@pytest.mark.parametrize("command", [["list"], ["remove", "8048"]])
def test_listing_or_removing_through_pcp_or_nat_pmp_is_a_usage_error(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from ssdp_upnp.cli import parse

    for method in ("pcp", "natpmp"):
        with pytest.raises(SystemExit) as exited:
            parse(["nat", *command, "--method", method])
        assert exited.value.code == 2
        assert "needs UPnP IGD" in capsys.readouterr().err
    assert parse(["nat", *command, "--method", "upnp"]).method == "upnp"
    assert parse(["nat", "add", "8048", "--method", "NATPMP"]).method == "natpmp"


@pytest.mark.parametrize(
    "argv",
    [["nat", "pinhole", "add", "8048", "--method", "natpmp"],
     ["nat", "pinhole", "add", "8048", "--address", "fe80::1"],
     ["nat", "pinhole", "add", "8048", "--address", "198.51.100.11"],
     ["nat", "pinhole", "add", "0"], ["nat", "pinhole", "add", "8048", "--lease", "86401"],
     ["nat", "pinhole", "remove", "70000"], ["nat", "pinhole"]],
)  # fmt: skip
def test_pinhole_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parser().parse_args(argv)
    assert exited.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_an_unknown_interface_name_is_told_from_the_names_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    from ssdp_upnp import cli

    monkeypatch.setattr(socket, "if_nameindex", lambda: [(1, "lo"), (2, "eth0")])
    assert cli._unknown_interface(["eth0", "192.0.2.2", "fe80::1%eth0", "::1"]) is None
    assert cli._unknown_interface(["eth0", "wlan9", "eth1"]) == ("wlan9", "eth0, lo")
    assert cli._unknown_interface(["192.0.2"]) == ("192.0.2", "eth0, lo")


def test_the_program_flushes_its_output_and_keeps_its_exit_status(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import subprocess
    import sys

    monkeypatch.setenv("COLUMNS", "80")  # the same help layout here and there
    # a pipe, so stdout is block-buffered: the fast exit must flush it first
    helped = subprocess.run([sys.executable, "-m", "ssdp_upnp", "--help"], capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("usage: ssdp-upnp")
    assert helped.stdout == parser().format_help()
    refused = subprocess.run([sys.executable, "-m", "ssdp_upnp", "search", "--mx", "9"],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert refused.returncode == 2
    assert "error:" in refused.stderr and refused.stdout == ""


@pytest.mark.parametrize(
    ("outcome", "status", "err"),
    [(None, 0, ""), (SystemExit(), 0, ""), (SystemExit(3), 3, ""),
     (SystemExit("no gateway"), 1, "no gateway\n")],
)  # fmt: skip
def test_console_exits_with_mains_status(
    outcome: SystemExit | None,
    status: int,
    err: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from ssdp_upnp import cli

    class Exited(Exception):
        pass

    def main(argv: object) -> None:
        print("out")
        if outcome is not None:
            raise outcome

    def exit_now(code: int) -> None:
        raise Exited(code)

    monkeypatch.setattr(cli, "main", main)
    monkeypatch.setattr("os._exit", exit_now)
    with pytest.raises(Exited) as exited:
        cli.console([])
    assert exited.value.args == (status,)
    assert capsys.readouterr() == ("out\n", err)


def test_console_reports_output_it_could_not_write(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from ssdp_upnp import cli

    class Closed(io.StringIO):
        def flush(self) -> None:
            raise BrokenPipeError

    def exit_now(code: int) -> None:
        raise SystemError(code)

    monkeypatch.setattr(cli, "main", lambda argv: None)
    monkeypatch.setattr("os._exit", exit_now)
    monkeypatch.setattr("sys.stdout", Closed())
    with pytest.raises(SystemError) as exited:
        cli.console([])
    assert exited.value.args == (120,)


def test_the_interfaces_are_read_once_for_the_check_and_the_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    from ssdp_upnp import cli, lan

    eth0 = lan.Interface.parse("eth0", "198.51.100.11/24")
    reads: list[int] = []

    def system_interfaces() -> list[lan.Interface]:
        reads.append(1)
        return [eth0]

    monkeypatch.setattr(socket, "if_nameindex", lambda: [(1, "lo"), (2, "eth0")])
    monkeypatch.setattr(lan, "system_interfaces", system_interfaces)
    args = cli.parse(["nat", "status", "--interface", "eth0"])
    assert reads == [1]  # checked before anything is opened
    assert cli._interfaces(args) == [eth0] and reads == [1]  # the command's: the same reading
