"""The peer table on its own: pure code, time passed in."""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import UUID_A, UUID_B
from ssdp_upnp.message import NTS, Notify, SearchRequest, SearchResponse
from ssdp_upnp.node import NodeInfo
from ssdp_upnp.peers import (
    Departure,
    Peer,
    PeerAdded,
    PeerRemoved,
    PeerTable,
    RemovalReason,
    Sighting,
    VerifyAddress,
    read_message,
)

PEER = Peer(UUID_B, "198.51.100.12", 9000, "blockchain", "main", "http://x/", 0.0, boot_id=1)


def seen(max_age: int = 100, **changes: Any) -> Sighting:
    return Sighting(replace(PEER, **changes), max_age)


@given(
    host=st.sampled_from(["198.51.100.12", "fe80::12%eth0", "2001:db8::12"]),
    other=st.sampled_from([None, "198.51.100.13", "fe80::13%eth1"]),
    expires=st.floats(allow_nan=False, allow_infinity=False),
    legacy=st.booleans(),
    external=st.sampled_from([None, ("203.0.113.5", 8048)]),
)
def test_a_peer_until_a_time_is_what_replace_makes(
    host: str, other: str | None, expires: float, legacy: bool, external: Any
) -> None:
    peer = replace(PEER, host=host, legacy=legacy, external=external)
    if other is not None:
        peer = peer.with_address(other)
    later = peer.until(expires)
    made = replace(peer, expires=expires)
    assert later == made and hash(later) == hash(made)
    assert vars(later) == vars(made) and later.addresses == peer.addresses
    assert peer.expires == 0.0  # the old one is untouched
    with pytest.raises(dataclasses.FrozenInstanceError):
        later.expires = 1.0  # type: ignore[misc]


def test_add_refresh_expire() -> None:
    table = PeerTable("blockchain", "main")
    (added,) = table.see(seen(), now=10)
    assert isinstance(added, PeerAdded) and added.peer.expires == 110
    assert table.see(seen(max_age=50), now=20) == []  # a shorter max-age never shortens
    assert table.next_expiry() == 110
    assert table.see(seen(), now=60) == []
    assert table.next_expiry() == 160
    assert table.expire(159.9) == []
    (gone,) = table.expire(160)
    assert gone == PeerRemoved(replace(PEER, expires=160), RemovalReason.EXPIRED)
    assert len(table) == 0 and table.next_expiry() is None


def test_max_age_is_capped() -> None:
    table = PeerTable("blockchain", "main", max_age_cap=3600)
    (added,) = table.see(seen(max_age=10**9), now=0)
    assert isinstance(added, PeerAdded) and added.peer.expires == 3600


def test_restart_change_and_departure() -> None:
    table = PeerTable("blockchain", "main")
    table.see(seen(), now=0)
    removed, added = table.see(seen(boot_id=2), now=1)
    assert isinstance(removed, PeerRemoved) and removed.reason is RemovalReason.RESTARTED
    assert isinstance(added, PeerAdded) and added.peer.boot_id == 2
    # another address speaking for the peer moves it only if its own address does not answer
    (verify,) = table.see(seen(boot_id=2, host="198.51.100.13"), now=2)
    assert isinstance(verify, VerifyAddress) and verify.peer.host == "198.51.100.12"
    removed, _ = table.expire(verify.deadline)
    assert isinstance(removed, PeerRemoved) and removed.reason is RemovalReason.CHANGED
    (bye,) = table.depart(Departure(UUID_B, 2))
    assert isinstance(bye, PeerRemoved) and bye.reason is RemovalReason.BYEBYE
    assert table.depart(Departure(UUID_B, 2)) == []


def test_filters_and_bounds() -> None:
    table = PeerTable("blockchain", "main", exclude=[UUID_A.upper()], max_peers=1)
    assert table.see(seen(product="other"), now=0) == []
    assert table.see(seen(network="test"), now=0) == []
    assert table.see(seen(uuid=UUID_A), now=0) == []
    assert len(table.see(seen(), now=0)) == 1
    assert table.see(seen(uuid="00000000-0000-0000-0000-000000000001"), now=0) == []
    assert [e.reason for e in table.clear() if isinstance(e, PeerRemoved)] == [
        RemovalReason.STOPPED
    ]


def test_read_message() -> None:
    node = NodeInfo.create(UUID_B, "blockchain", "main", 9000)
    response = SearchResponse(st=node.udn, usn=node.usn(node.udn), location="http://x/",
                              max_age=60, boot_id=3, extra=node.headers())  # fmt: skip
    sighting = read_message(response, "198.51.100.12", "198.51.100.11")
    assert isinstance(sighting, Sighting) and sighting.max_age == 60
    assert sighting.peer.address == ("198.51.100.12", 9000) and sighting.peer.boot_id == 3
    bye = Notify(nts=NTS.BYEBYE, nt=node.udn, usn=node.usn(node.udn), boot_id=3)
    assert read_message(bye, "198.51.100.12", None) == Departure(UUID_B, 3)
    foreign = replace(response, extra=())
    assert read_message(foreign, "198.51.100.12", None) is None
    assert read_message(SearchRequest(st="ssdp:all"), "198.51.100.12", None) is None


def test_expiry_bookkeeping_stays_bounded_and_ordered() -> None:
    table = PeerTable("blockchain", "main")
    uuids = [f"00000000-0000-0000-0000-{i:012d}" for i in range(10)]
    for now in range(1000):  # every peer refreshed a thousand times
        for i, uuid in enumerate(uuids):
            table.see(seen(uuid=uuid, host=f"198.51.100.{20 + i}", max_age=100 + i), now=now)
    assert len(table._expiries) <= 2 * len(table) + 64
    assert table.next_expiry() == 999 + 100
    gone = table.expire(999 + 104.5)
    assert [e.peer.uuid for e in gone] == uuids[:5]  # soonest first, only those due
    assert table.next_expiry() == 999 + 105


@given(st.lists(st.tuples(st.sampled_from(["see", "bye", "expire"]), st.integers(0, 7),
                          st.integers(1, 60), st.integers(0, 3)), max_size=80))  # fmt: skip
def test_the_next_expiry_is_always_the_soonest_peers(ops: list[tuple[str, int, int, int]]) -> None:
    # refreshes push nothing on the heap: its entries are moved on as they come up, and
    # what the table says is due must still be exactly the soonest peer, whatever happened
    table = PeerTable("blockchain", "main")
    now = 0.0
    for op, i, max_age, step in ops:
        now += step
        uuid = f"00000000-0000-0000-0000-{i:012d}"
        if op == "see":
            table.see(seen(uuid=uuid, host=f"198.51.100.{20 + i}", max_age=max_age,
                           boot_id=max_age % 2), now=now)  # fmt: skip
        elif op == "bye":
            table.depart(Departure(uuid, None, f"198.51.100.{20 + i}"), now)
        else:
            gone = table.expire(now)
            assert all(e.peer.expires <= now for e in gone if isinstance(e, PeerRemoved))
            assert all(p.expires > now for p in table.peers())
        soonest = min((p.expires for p in table.peers()), default=None)
        assert table.next_expiry() == soonest
        assert len(table._expiries) <= 2 * len(table) + 64
