"""
C{message.decode} beside a hand-written floor and two other SSDP parsers.

The floor splits the head and its lines on bytes and lower-cases the names: no
check at all, so it is the least any parser can cost. ssdpy's
C{parse_headers} checks little more; async_upnp_client's C{decode_ssdp_packet}
caches what it parsed, so every parser is given 4,096 datagrams that differ in
one value (ST or CONFIGID), as a node's datagrams do. Ours checks every limit
and gives typed messages.

Usage: python bench/bench_decode.py [--anchors] [ROUNDS]
  --anchors: run in the anchors' venv (bench/anchors.py) so that ssdpy and
  async_upnp_client are timed too; without it, only ours and the floor.
"""

from __future__ import annotations

import os
import statistics
import sys
import timeit
from collections import deque
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

from anchors import anchor_python, in_anchor_venv  # noqa: E402
from helpers import MINIUPNPD_RESPONSE as OK  # noqa: E402

M_SEARCH = (
    b"M-SEARCH * HTTP/1.1\r\n"
    b"HOST: 239.255.255.250:1900\r\n"
    b'MAN: "ssdp:discover"\r\n'
    b"MX: 2\r\n"
    b"ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
    b"\r\n"
)


VARIANTS = 4096


def floor(data: bytes) -> tuple[bytes, dict[bytes, bytes]]:
    head = data.split(b"\r\n\r\n", 1)[0]
    lines = head.split(b"\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return lines[0], headers


def datagram_kinds() -> tuple[list[bytes], list[bytes]]:
    """VARIANTS M-SEARCHes differing in their ST, and VARIANTS 200 OKs in their CONFIGID."""
    kinds = (
        [M_SEARCH.replace(b":1\r\n\r\n", b":%d\r\n\r\n" % i) for i in range(VARIANTS)],
        [
            OK.replace(b"CONFIGID.UPNP.ORG: 1337", b"CONFIGID.UPNP.ORG: %d" % i)
            for i in range(VARIANTS)
        ],
    )
    assert all(len(set(datagrams)) == VARIANTS for datagrams in kinds)
    return kinds


def one_round(
    parsers: dict[str, Callable[[bytes], object]], datagrams: list[bytes], backward: bool
) -> dict[str, float]:
    """Each parser's µs per datagram over C{datagrams}, timed one after another."""
    took = {}
    for name in reversed(parsers) if backward else parsers:
        parse = parsers[name]
        t = timeit.timeit(lambda: deque(map(parse, datagrams), 0), number=1)  # noqa: B023
        took[name] = t / VARIANTS * 1e6
    return took


def parsers() -> dict[str, Callable[[bytes], object]]:
    from ssdp_upnp.message import decode

    found: dict[str, Callable[[bytes], object]] = {"ours": decode, "floor": floor}
    try:
        from ssdpy.http_helper import parse_headers  # type: ignore[import-not-found,unused-ignore]

        found["ssdpy 0.4.1"] = parse_headers
    except ImportError:
        pass
    try:
        from async_upnp_client.ssdp import decode_ssdp_packet

        found["async_upnp_client 0.49.0"] = lambda data: decode_ssdp_packet(
            data, None, ("198.51.100.1", 1900)
        )
    except ImportError:
        pass
    return found


def main() -> None:
    args = sys.argv[1:]
    if "--anchors" in args and not in_anchor_venv():
        python = anchor_python()
        os.execv(str(python), [str(python), os.path.abspath(__file__), *args])
    rounds = int(next((a for a in args if a.isdigit()), "25"))
    kinds = datagram_kinds()
    print(f"python {sys.version.split()[0]}, {rounds} rounds, µs per datagram")
    found = parsers()
    names = list(found)
    times: dict[str, list[float]] = {name: [float("inf"), float("inf")] for name in names}
    # a round's ratio to the floor: its two timings are taken back to back
    ratios: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in names}
    # interleaved: every parser once per round, so a slow spell of the VM hits all, in
    # turn forward and backward (the one timed next to the floor changes)
    for n in range(rounds):
        for i, datagrams in enumerate(kinds):
            took = one_round(found, datagrams, backward=n % 2 == 1)
            for name in names:
                times[name][i] = min(times[name][i], took[name])
            for name in names:
                ratios[name][i].append(took[name] / took["floor"])
    print(f"{'':28s} {'M-SEARCH':^28s} {'200 OK':^28s}")
    print(f"{'parser':28s}" + f" {'best':>7s} {'× floor':>8s} {'median ×':>11s}" * 2)
    base = times["floor"]
    for name in names:
        row = f"{name:28s}"
        for i in range(2):
            best, paired = times[name][i], statistics.median(ratios[name][i])
            row += f" {best:7.2f} {best / base[i]:8.2f} {paired:11.2f}"
        print(row)
    print("best: the fastest round's µs; × floor: the two bests' ratio; median ×: the median")
    print("over the rounds of the ratio to the floor timed in the same round")


if __name__ == "__main__":
    main()
