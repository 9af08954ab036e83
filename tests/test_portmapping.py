"""Gateway search, the port-mapping service (leases, reboots, stop) and Nat, driven by a Clock."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.defer import Deferred, fail
from twisted.python import usage

from helpers import ETH0, failure_of, result_of
from ssdp_upnp import errors
from ssdp_upnp.gateway import Gateway
from ssdp_upnp.gateway_discovery import find_gateway, probe_gateway
from ssdp_upnp.lan import Interface
from ssdp_upnp.message import SSDP_GROUP, SearchRequest, SearchResponse, decode, encode
from ssdp_upnp.portmapping import Forward, Nat, PortMappingService
from ssdp_upnp.tap import Options
from ssdp_upnp.testing import FakeRouter, MemoryMulticastReactor, StubHTTPClient, igd_site

URL = "http://198.51.100.1:5000/rootDesc.xml"
ME = ETH0.ip
IGD2 = "urn:schemas-upnp-org:device:InternetGatewayDevice:2"


def answer(location: str = URL, st: str = IGD2) -> bytes:
    return encode(SearchResponse(st=st, usn=f"uuid:fake-igd::{st}", location=location))


# -- gateway search


def test_search_sends_every_igd_target_and_takes_the_first_usable_answer() -> None:
    reactor = MemoryMulticastReactor()
    d = find_gateway(
        reactor, [ETH0], http=StubHTTPClient(igd_site(FakeRouter())), timeout=5, unicast_to=[]
    )
    (port,) = reactor.open_ports()
    reactor.advance(0)
    sent = port.take()
    assert sent and all(s.addr == (SSDP_GROUP, 1900) and s.interface == ME for s in sent)
    searches = [decode(s.data) for s in sent]
    assert {s.st for s in searches if isinstance(s, SearchRequest)} == {
        IGD2,
        "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
        "urn:schemas-upnp-org:service:WANIPConnection:2",
        "urn:schemas-upnp-org:service:WANIPConnection:1",
        "urn:schemas-upnp-org:service:WANPPPConnection:1",
    }
    assert not d.called
    port.deliver(answer(), ("198.51.100.1", 1900))
    gateway = result_of(d)
    assert isinstance(gateway, Gateway) and gateway.local_address == ME
    assert reactor.open_ports() == [] and reactor.getDelayedCalls() == []


def test_location_on_another_host_is_not_fetched() -> None:
    reactor = MemoryMulticastReactor()
    router = FakeRouter()
    d = find_gateway(
        reactor, [ETH0], http=StubHTTPClient(igd_site(router)), timeout=5, unicast_to=[]
    )
    (port,) = reactor.open_ports()
    port.deliver(answer("http://198.51.100.66:5000/rootDesc.xml"), ("198.51.100.1", 1900))
    port.deliver(answer("file:///etc/passwd"), ("198.51.100.1", 1900))
    reactor.advance(5)
    failure = failure_of(d)
    assert isinstance(failure.value, errors.NoGatewayFound)
    assert router.calls == []  # nothing was fetched or called


def test_no_answer_is_no_gateway_in_time() -> None:
    reactor = MemoryMulticastReactor()
    d = find_gateway(
        reactor, [ETH0], http=StubHTTPClient(igd_site(FakeRouter())), timeout=3, unicast_to=[]
    )
    reactor.advance(2.9)
    assert not d.called
    reactor.advance(0.1)
    assert "no answer" in str(failure_of(d).value)
    assert reactor.open_ports() == []


def test_search_goes_to_the_default_gateway_too() -> None:
    reactor = MemoryMulticastReactor()
    d = find_gateway(reactor, [ETH0], http=StubHTTPClient(igd_site(FakeRouter())), timeout=5,
                     unicast_to=["198.51.100.1", "203.0.113.1"])  # fmt: skip
    (port,) = reactor.open_ports()
    reactor.advance(0)
    direct = [s for s in port.take() if s.addr == ("198.51.100.1", 1900)]
    assert len(direct) == 5  # one per search target; 203.0.113.1 is on no subnet of ours
    requests = [decode(s.data) for s in direct]
    assert all(isinstance(r, SearchRequest) and r.mx is None and r.host == "198.51.100.1:1900"
               for r in requests)  # fmt: skip
    port.deliver(answer(), ("198.51.100.1", 1900))
    assert isinstance(result_of(d), Gateway)


def test_default_gateways_from_proc_net_route() -> None:
    from ssdp_upnp.lan import parse_proc_route

    text = (
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n"
        "eth0\t00000000\t016433C6\t0003\t0\t0\t0\t00000000\n"
        "eth0\t006433C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\n"
        "eth1\t00000000\t016433C6\t0003\t0\t0\t0\t00000000\n"
        "bad line\n"
    )
    assert parse_proc_route(text) == ["198.51.100.1"]


def test_explicit_description_url_skips_ssdp() -> None:
    reactor = MemoryMulticastReactor()
    gateway = result_of(
        find_gateway(
            reactor, [ETH0], http=StubHTTPClient(igd_site(FakeRouter())), description_url=URL
        )
    )
    assert gateway.local_address == ME and reactor.datagram_ports == []


# -- the service


class Finder:
    """Finds the fake router's gateway, or fails while the router is away."""

    def __init__(self, reactor: Any, router: FakeRouter) -> None:
        self.reactor = reactor
        self.router = router
        self.calls = 0

    def __call__(self) -> Deferred[Gateway]:
        self.calls += 1
        if self.router.down:
            return fail(errors.NoGatewayFound("no answer"))
        stub = StubHTTPClient(igd_site(self.router))
        return Deferred.fromCoroutine(probe_gateway(self.reactor, stub, URL, ME))


def adds(router: FakeRouter) -> list[dict[str, str]]:
    return [a for n, a in router.calls if n == "AddPortMapping"]


@pytest.fixture
def setup() -> tuple[MemoryMulticastReactor, FakeRouter, Finder]:
    reactor = MemoryMulticastReactor()
    router = FakeRouter(igd2=False)
    return reactor, router, Finder(reactor, router)


def start(setup: Any, *forwards: str, **kw: Any) -> PortMappingService:
    reactor, router, finder = setup
    service = PortMappingService(
        reactor, [Forward.parse(f) for f in forwards], finder, lease=600, check_interval=60, **kw
    )
    service.startService()
    reactor.advance(0)
    return service


def test_maps_with_a_finite_lease_and_renews_by_adding_again(setup: Any) -> None:
    reactor, router, _ = setup
    service = start(setup, "8048", "9000:19000/udp")
    assert set(router.table) == {(8048, "TCP"), (19000, "UDP")}
    assert {a["NewLeaseDuration"] for a in adds(router)} == {"600"}
    assert sorted(service.public_addresses()) == [("203.0.113.2", 8048, "TCP", 8048),
                                                   ("203.0.113.2", 19000, "UDP", 9000)]  # fmt: skip
    for _ in range(4):
        reactor.advance(60)  # checks, no re-add before half the lease
    assert len(adds(router)) == 2
    assert not any(n == "DeletePortMapping" for n, _ in router.calls)
    reactor.advance(60)  # 300 s: half the lease
    assert len(adds(router)) == 4
    assert not any(n == "DeletePortMapping" for n, _ in router.calls)  # never delete-then-add


def test_router_reboot_is_repaired(setup: Any) -> None:
    reactor, router, finder = setup
    start(setup, "8048")
    router.table.clear()  # rebooted: mappings lost
    router.down = True
    reactor.advance(60)
    assert finder.calls == 1  # the check failed: the gateway is forgotten
    for _ in range(5):
        reactor.advance(32)
    router.down = False
    reactor.advance(64)
    assert (8048, "TCP") in router.table
    assert finder.calls >= 2


def test_mapping_gone_while_router_stayed_up_is_recreated(setup: Any) -> None:
    reactor, router, _ = setup
    start(setup, "8048")
    del router.table[(8048, "TCP")]
    reactor.advance(60)
    assert (8048, "TCP") in router.table


def test_external_address_change_is_noticed(setup: Any) -> None:
    reactor, router, _ = setup
    service = start(setup, "8048")
    seen: list[str | None] = []
    service.observe(lambda s: seen.append(s.external_ip))
    router.external_ip = "203.0.113.77"
    reactor.advance(60)
    assert seen == ["203.0.113.77"] and service.external_ip == "203.0.113.77"


def test_a_refused_forward_does_not_block_the_others(setup: Any) -> None:
    reactor, router, _ = setup
    router.refused[8048] = 729  # ConflictWithOtherMechanisms: a port the router keeps for itself
    service = start(setup, "8048", "9000")
    assert (9000, "TCP") in router.table
    assert [f.external_port for f in service.mappings] == [9000]
    del router.refused[8048]  # the router let it go
    reactor.advance(2)  # retried with backoff
    assert router.table[(8048, "TCP")]["NewInternalClient"] == ME


def test_a_port_another_host_holds_moves_to_another_port(setup: Any) -> None:
    reactor, router, _ = setup
    router.table[(8048, "TCP")] = {"NewInternalClient": "198.51.100.99", "NewExternalPort": "8048",
                                   "NewProtocol": "TCP", "NewInternalPort": "8048"}  # fmt: skip
    service = start(setup, "8048")
    (mapping,) = service.mappings.values()
    assert mapping.external_port != 8048 and router.table[(mapping.external_port, "TCP")][
        "NewInternalClient"] == ME  # fmt: skip
    assert service.public_addresses() == [("203.0.113.2", mapping.external_port, "TCP", 8048)]
    assert router.table[(8048, "TCP")]["NewInternalClient"] == "198.51.100.99"  # untouched


def test_stop_deletes_the_mappings_and_fires_when_done(setup: Any) -> None:
    reactor, router, _ = setup
    service = start(setup, "8048", "9000/udp")
    result_of(service.stopService())
    assert router.table == {}
    assert reactor.getDelayedCalls() == []


def test_stop_with_router_gone_still_fires(setup: Any) -> None:
    reactor, router, _ = setup
    service = start(setup, "8048")
    router.down = True
    result_of(service.stopService())
    assert reactor.getDelayedCalls() == []


def test_bad_service_options(setup: Any) -> None:
    reactor, _, finder = setup
    with pytest.raises(errors.ConfigurationError):
        PortMappingService(reactor, [], finder, lease=0)


@pytest.mark.parametrize(
    "spec, forward",
    [("8048", Forward(8048, 8048, "TCP")), ("8048:18048", Forward(8048, 18048, "TCP")),
     ("53/UDP", Forward(53, 53, "UDP")), ("1:2/tcp", Forward(1, 2, "TCP"))],
)  # fmt: skip
def test_forward_specs(spec: str, forward: Forward) -> None:
    assert Forward.parse(spec) == forward


@pytest.mark.parametrize("spec", ["", "0", "70000", "80:", "80/sctp", "a:b", "80:90:100"])
def test_bad_forward_specs(spec: str) -> None:
    with pytest.raises(errors.ConfigurationError):
        Forward.parse(spec)
    with pytest.raises(usage.UsageError):
        Options().parseOptions(["--product", "b", "--forward", spec])


def test_forward_option_and_only_forwarding() -> None:
    config = Options()
    config.parseOptions(["--product", "b", "--no-advertise", "--no-discover", "--forward", "8048",
                         "--forward", "53/udp", "--gateway-url", URL])  # fmt: skip
    assert config["forwards"] == [Forward(8048, 8048), Forward(53, 53, "UDP")]
    with pytest.raises(usage.UsageError, match="http://"):
        Options().parseOptions(["--product", "b", "--forward", "1", "--gateway-url", "ftp://x/"])


# -- Nat, the seed's names


def test_nat_add_and_remove_are_honest() -> None:
    reactor = MemoryMulticastReactor()
    router = FakeRouter()
    nat = Nat(Finder(reactor, router))
    assert result_of(nat.addPortForward(8011, 8015)) == ("203.0.113.2", 8015)
    assert router.table[(8015, "TCP")]["NewInternalPort"] == "8011"
    assert result_of(nat.removePortForward(8015)) is True
    assert (8015, "TCP") not in router.table
    assert result_of(nat.removePortForward(8015)) is False  # nothing left to remove
    router.table[(7000, "TCP")] = {"NewInternalClient": "198.51.100.99", "NewInternalPort": "7000"}
    assert result_of(nat.removePortForward(7000)) is False  # not ours
    assert (7000, "TCP") in router.table
    assert result_of(nat.addPortForward(7000, 7000)) is None  # conflict: None, logged


def test_nat_without_gateway_says_none_and_retries_later() -> None:
    reactor = MemoryMulticastReactor()
    router = FakeRouter(down=True)
    finder = Finder(reactor, router)
    nat = Nat(finder)
    assert result_of(nat.addPortForward(8011, 8015)) is None
    router.down = False
    assert result_of(nat.addPortForward(8011, 8015)) == ("203.0.113.2", 8015)
    assert finder.calls == 2


def test_search_ends_once_no_more_answers_are_due() -> None:
    reactor = MemoryMulticastReactor()
    d = find_gateway(
        reactor,
        [ETH0],
        http=StubHTTPClient(igd_site(FakeRouter())),
        timeout=10,
        mx=2,
        unicast_to=[],
    )
    reactor.advance(3.4)  # last search at 1.0 s, answers due until 1.0 + MX(2)
    assert not d.called
    reactor.advance(0.1)
    assert "no answer to the IGD searches" in str(failure_of(d).value)
    assert reactor.getDelayedCalls() == []


def test_failed_candidates_end_the_search_when_no_more_answers_are_due() -> None:
    reactor = MemoryMulticastReactor()
    router = FakeRouter()
    site = igd_site(router, services={})  # a device without a connection service
    d = find_gateway(reactor, [ETH0], http=StubHTTPClient(site), timeout=10, mx=1, unicast_to=[])
    (port,) = reactor.open_ports()
    reactor.advance(0.5)
    port.deliver(answer(), ("198.51.100.1", 1900))  # probed at once, and unusable
    reactor.advance(1.9)
    assert not d.called  # another gateway may still answer until 1.0 + MX
    reactor.advance(0.1)
    failure = failure_of(d)
    assert "no WANIPConnection or WANPPPConnection service" in str(failure.value)
    assert reactor.getDelayedCalls() == []


def test_an_interface_change_that_keeps_our_address_changes_nothing(setup: Any) -> None:
    reactor, router, finder = setup
    service = start(setup, "8048")
    service.update_interfaces([ETH0, Interface.parse("eth1", "10.9.0.1/16")])
    reactor.advance(0)
    assert finder.calls == 1 and len(adds(router)) == 1 and service.gateway is not None


def test_losing_our_address_removes_the_old_mapping_and_maps_again(setup: Any) -> None:
    reactor, router, finder = setup
    service = start(setup, "8048")
    seen: list[list[tuple[str, int, str, int]]] = []
    service.observe(lambda s: seen.append(s.public_addresses()))
    service.update_interfaces([Interface.parse("eth0", "198.51.100.21/24")])
    assert seen == [[]]  # the old address's mapping is no longer ours to advertise
    reactor.advance(0)
    assert finder.calls == 2
    deleted = [a for n, a in router.calls if n == "DeletePortMapping"]
    assert [(d["NewExternalPort"], d["NewProtocol"]) for d in deleted] == [("8048", "TCP")]
    assert len(adds(router)) == 2 and seen[-1] == [("203.0.113.2", 8048, "TCP", 8048)]


def test_a_refused_renewal_withdraws_the_public_address_at_once(setup: Any) -> None:
    reactor, router, _ = setup
    service = start(setup, "8048")
    seen: list[list[tuple[str, int, str, int]]] = []
    service.observe(lambda s: seen.append(s.public_addresses()))
    # another host takes the port and the router will not give it back
    router.table[(8048, "TCP")]["NewInternalClient"] = "198.51.100.99"
    router.refused[8048] = 718
    router.refused.update({port: 728 for port in range(8049, 8070)})
    reactor.advance(60)
    assert service.mappings == {} and seen[-1] == []


def test_stop_leaves_a_mapping_that_is_no_longer_ours(setup: Any) -> None:
    reactor, router, _ = setup
    service = start(setup, "8048", "9000")
    # with secure mode off, another host may take the port over
    router.table[(8048, "TCP")]["NewInternalClient"] = "198.51.100.99"
    result_of(service.stopService())
    assert list(router.table) == [(8048, "TCP")]
    assert router.table[(8048, "TCP")]["NewInternalClient"] == "198.51.100.99"


def test_an_add_that_timed_out_is_removed_if_the_router_made_it(setup: Any) -> None:
    reactor, router, finder = setup
    service = PortMappingService(reactor, [], finder, lease=600, check_interval=60,
                                 first_check=60)  # fmt: skip
    service.startService()
    router.add_then_hang = True
    failed = service.add(Forward.parse("8011:8015"))
    reactor.advance(10)  # the request's deadline
    assert isinstance(failure_of(failed).value, errors.GatewayHTTPError)
    assert (8015, "TCP") in router.table and service.forwards == []
    router.add_then_hang = False
    reactor.advance(10)  # the next pass, brought forward, looks for it
    assert (8015, "TCP") not in router.table
    result_of(service.stopService())


def test_stopping_while_the_gateway_is_searched_for_is_quiet() -> None:
    from twisted.logger import LogEvent, LogLevel, globalLogPublisher

    reactor = MemoryMulticastReactor()
    service = PortMappingService(
        reactor, [Forward.parse("8048")],
        lambda: find_gateway(reactor, [ETH0], http=StubHTTPClient(igd_site(FakeRouter())),
                             unicast_to=[]),
        lease=600,
    )  # fmt: skip
    events: list[LogEvent] = []
    observer: Any = events.append
    globalLogPublisher.addObserver(observer)
    try:
        service.startService()
        reactor.advance(0.5)  # searching: nobody has answered yet
        assert reactor.open_ports() != []
        result_of(service.stopService())
    finally:
        globalLogPublisher.removeObserver(observer)
    assert not [e for e in events if e["log_level"] in (LogLevel.critical, LogLevel.error)]
    assert reactor.open_ports() == [] and reactor.getDelayedCalls() == []
