"""Node identity, its vendor headers, its description document and the state file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ssdp_upnp._xmlsafe import parse_xml
from ssdp_upnp.description import (
    build_device_description,
    build_scpd,
    config_id,
    read_node_description,
)
from ssdp_upnp.errors import ConfigurationError, InvalidDescription, StateFileError, UnsafeXML
from ssdp_upnp.node import NodeInfo, read_advertisement
from ssdp_upnp.state import NodeState, advance, load_state

UUID = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"


def node(**kw: object) -> NodeInfo:
    fields: dict[str, object] = dict(uuid=UUID, product="blockchain", network="main", port=8048)
    fields.update(kw)
    return NodeInfo.create(**fields)  # type: ignore[arg-type]


def test_notification_types_and_usns() -> None:
    n = node()
    assert n.notification_types() == (
        "upnp:rootdevice",
        f"uuid:{UUID}",
        "urn:ssdp-upnp-org:device:blockchain:1",
        "urn:ssdp-upnp-org:service:blockchain:1",
    )
    assert n.usn(f"uuid:{UUID}") == f"uuid:{UUID}"
    assert n.usn("upnp:rootdevice") == f"uuid:{UUID}::upnp:rootdevice"


def test_uuid_is_canonicalised() -> None:
    assert node(uuid="uuid:" + UUID.upper()).uuid == UUID


@pytest.mark.parametrize(
    "field, value",
    [
        ("product", ""),
        ("product", "block chain"),
        ("product", "a:b"),
        ("product", "x" * 65),
        ("network", "main\r\nX: y"),
        ("port", 0),
        ("port", 70000),
        ("uuid", "not-a-uuid"),
        ("node_id", "has space"),
    ],
)
def test_bad_identity_is_a_configuration_error(field: str, value: object) -> None:
    with pytest.raises(ConfigurationError):
        node(**{field: value})


def test_headers_read_back() -> None:
    n = node(node_id="peer-42")
    advertised = read_advertisement(n.headers())
    assert advertised is not None
    assert (advertised.product, advertised.network, advertised.port, advertised.node_id) == (
        "blockchain",
        "main",
        8048,
        "peer-42",
    )
    # names in any case; of a header given twice, the first counts
    headers = tuple((name.lower(), value) for name, value in n.headers())
    again = read_advertisement((*headers, ("Port.Ssdp-Upnp.Org", "9999")))
    assert again is not None and again.port == 8048 and again.product == "blockchain"


@pytest.mark.parametrize(
    "headers",
    [
        (),
        (("PRODUCT.SSDP-UPNP.ORG", "b"), ("NETWORK.SSDP-UPNP.ORG", "m")),
        (("PRODUCT.SSDP-UPNP.ORG", "b"), ("NETWORK.SSDP-UPNP.ORG", "m"),
         ("PORT.SSDP-UPNP.ORG", "99999")),
        (("PRODUCT.SSDP-UPNP.ORG", "b"), ("NETWORK.SSDP-UPNP.ORG", "m"),
         ("PORT.SSDP-UPNP.ORG", "８０")),
        (("PRODUCT.SSDP-UPNP.ORG", "bad product"), ("NETWORK.SSDP-UPNP.ORG", "m"),
         ("PORT.SSDP-UPNP.ORG", "80")),
    ],
)  # fmt: skip
def test_foreign_or_bad_headers_are_not_an_advertisement(
    headers: tuple[tuple[str, str], ...],
) -> None:
    assert read_advertisement(headers) is None


def test_description_round_trip_and_config_id() -> None:
    n = node(node_id="n1")
    read = read_node_description(build_device_description(n))
    assert read.udn == n.udn and read.device_type == n.device_type
    assert read.service_types == (n.service_type,)
    assert (read.product, read.network, read.port, read.node_id) == (
        "blockchain",
        "main",
        8048,
        "n1",
    )
    assert config_id(n) != config_id(node(port=8049))
    assert 0 <= config_id(n) < 2**24
    assert parse_xml(build_scpd()).tag.endswith("scpd")


def test_description_escapes_values() -> None:
    # a node id may hold XML metacharacters; the document must stay well-formed
    n = node(node_id="<&>\"'")
    assert read_node_description(build_device_description(n)).node_id == "<&>\"'"


@pytest.mark.parametrize(
    "doc",
    [
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
        b'<!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><r>&b;</r>',
        b"<!DOCTYPE root><root/>",
        b"<root>",
        b"",
        b"<a>" + b"x" * (300 * 1024) + b"</a>",
    ],
)
def test_hostile_xml_is_refused(doc: bytes) -> None:
    with pytest.raises(UnsafeXML):
        parse_xml(doc)


def test_foreign_description_is_invalid() -> None:
    with pytest.raises(InvalidDescription):
        read_node_description(b"<root><device><deviceType>x</deviceType></device></root>")


def test_state_advances_boot_id_and_keeps_uuid(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "state.json"
    first = load_state(path)
    second = load_state(path)
    assert second.uuid == first.uuid
    assert second.boot_id == first.boot_id + 1
    assert json.loads(path.read_text()) == {"uuid": first.uuid, "boot_id": second.boot_id}
    given = load_state(path, uuid=UUID)
    assert given == NodeState(UUID, second.boot_id + 1)


def test_boot_id_wraps_within_range() -> None:
    assert advance(NodeState(UUID, 2**31 - 1)).boot_id == 1
    assert advance(None, new_uuid=lambda: UUID) == NodeState(UUID, 1)


def test_damaged_state_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{not json")
    with pytest.raises(StateFileError, match="damaged"):
        load_state(path)
    path.write_text(json.dumps({"uuid": UUID, "boot_id": -5}))
    with pytest.raises(StateFileError, match="out of range"):
        load_state(path)


def test_unusable_state_path_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StateFileError, match="cannot read .*Not a directory"):
        load_state(blocker / "state.json")
    # nothing to read there, and nothing can be created under /proc
    with pytest.raises(StateFileError, match="cannot write"):
        load_state(Path("/proc/ssdp-upnp-test/state.json"))


@pytest.mark.parametrize(
    "text",
    ['{"uuid": "%s", "boot_id": 1e400}', '{"uuid": "%s", "boot_id": true}',
     '{"uuid": "%s", "boot_id": "5"}', '{"uuid": "%s", "boot_id": 2.5}', '["%s", 1]',
     '{"uuid": 7, "boot_id": 1}', "[" * 100000 + "]" * 100000],
)  # fmt: skip
def test_state_file_is_parsed_strictly(tmp_path: Path, text: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(text.replace("%s", UUID) if "%s" in text else text)
    with pytest.raises(StateFileError, match="damaged"):
        load_state(path)
