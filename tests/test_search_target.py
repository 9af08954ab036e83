"""ST matching: ssdp:all, rootdevice, uuid, type URNs and the version rule."""

from __future__ import annotations

import pytest

from ssdp_upnp.search_target import Answer, match_search_target, parse_type_urn

ADVERTISED = (
    "upnp:rootdevice",
    "uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427",
    "urn:ssdp-upnp-org:device:blockchain:2",
    "urn:ssdp-upnp-org:service:blockchain:1",
)


def test_ssdp_all_answers_once_per_nt_echoing_each_nt() -> None:
    answers = match_search_target("ssdp:all", ADVERTISED)
    assert answers == [Answer(nt, nt) for nt in ADVERTISED]


def test_rootdevice_and_uuid() -> None:
    assert match_search_target("upnp:rootdevice", ADVERTISED) == [
        Answer("upnp:rootdevice", "upnp:rootdevice")
    ]
    upper = "uuid:1B4E28BA-2FA1-11D2-883F-0016D3CCA427"
    assert match_search_target(upper, ADVERTISED) == [Answer(ADVERTISED[1], ADVERTISED[1])]
    assert match_search_target("uuid:00000000-0000-0000-0000-000000000000", ADVERTISED) == []


def test_lower_version_search_is_answered_with_the_searched_version() -> None:
    st = "urn:ssdp-upnp-org:device:blockchain:1"
    assert match_search_target(st, ADVERTISED) == [Answer(ADVERTISED[2], st)]


def test_higher_version_is_never_answered() -> None:
    assert match_search_target("urn:ssdp-upnp-org:device:blockchain:3", ADVERTISED) == []
    assert match_search_target("urn:ssdp-upnp-org:service:blockchain:2", ADVERTISED) == []


@pytest.mark.parametrize(
    "st",
    [
        "urn:ssdp-upnp-org:device:other:1",
        "urn:schemas-upnp-org:device:blockchain:1",
        "urn:ssdp-upnp-org:service:blockchain",
        "urn:ssdp-upnp-org:gadget:blockchain:1",
        "",
        "ssdp:none",
    ],
)
def test_non_matching(st: str) -> None:
    assert match_search_target(st, ADVERTISED) == []


def test_parse_type_urn() -> None:
    urn = parse_type_urn("urn:schemas-upnp-org:service:WANIPConnection:2")
    assert urn is not None and (urn.kind, urn.type, urn.version) == (
        "service",
        "WANIPConnection",
        2,
    )
    assert str(urn.with_version(1)) == "urn:schemas-upnp-org:service:WANIPConnection:1"
    assert parse_type_urn("urn:x:device:T:v2") is None
