"""
C{message.decode} A/B: this checkout's against another version of C{message.py},
both loaded in one process and timed in turn, with the floor of C{bench_decode}.

Each round times the two (and the floor) back to back on the same datagrams, in
turn forward and backward; printed are the best rounds and the median over the
rounds of the ratio other / this (below 1: the other is faster). Before timing,
both must decode the bench's datagrams to equal fields.

Usage: python bench/ab_decode.py OTHER_MESSAGE_PY [ROUNDS]
  e.g. git show HEAD~1:ssdp_upnp/message.py > /tmp/old.py; python bench/ab_decode.py /tmp/old.py
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import sys
from collections.abc import Callable
from types import ModuleType

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ssdp_upnp.message as this  # noqa: E402
from bench_decode import datagram_kinds, floor, one_round  # noqa: E402


def load(path: str) -> ModuleType:
    """C{path} as a module of the package (its relative imports resolve), not replacing ours."""
    spec = importlib.util.spec_from_file_location("ssdp_upnp._message_ab", path)
    if spec is None or spec.loader is None:
        sys.exit(f"ab_decode: cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (dataclasses looks its module up)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    if not sys.argv[1:]:
        sys.exit(__doc__)
    other = load(sys.argv[1])
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    kinds = datagram_kinds()
    for datagrams in kinds:
        for data in datagrams[:64]:
            a, b = this.decode(data), other.decode(data)
            assert type(a).__name__ == type(b).__name__ and vars(a) == vars(b), (a, b)
    parsers: dict[str, Callable[[bytes], object]] = {
        "this": this.decode, "other": other.decode, "floor": floor,
    }  # fmt: skip
    names = list(parsers)
    best = {(name, i): float("inf") for name in names for i in range(len(kinds))}
    ratios: dict[int, list[float]] = {i: [] for i in range(len(kinds))}
    for n in range(rounds):
        for i, datagrams in enumerate(kinds):
            took = one_round(parsers, datagrams, backward=n % 2 == 1)
            for name in names:
                best[name, i] = min(best[name, i], took[name])
            ratios[i].append(took["other"] / took["this"])
    print(f"python {sys.version.split()[0]}, {rounds} rounds, µs per datagram (best round)")
    for i, kind in enumerate(("M-SEARCH", "200 OK")):
        print(
            f"{kind:9s} this {best['this', i]:5.2f}  other {best['other', i]:5.2f}"
            f"  floor {best['floor', i]:5.2f}"
            f"  other/this median {statistics.median(ratios[i]):.3f}"
        )


if __name__ == "__main__":
    main()
