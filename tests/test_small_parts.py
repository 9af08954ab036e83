"""Rate limiting and interface selection."""

from __future__ import annotations

import pytest

from ssdp_upnp._ratelimit import RateLimiter, TokenBucket
from ssdp_upnp.errors import NoInterfaceError
from ssdp_upnp.lan import Interface, interface_for, select_interfaces

LO = Interface.parse("lo", "127.0.0.1/8")
ETH0 = Interface.parse("eth0", "198.51.100.11/24")
ETH1 = Interface.parse("eth1", "10.1.0.5/16")
LINK = Interface.parse("eth2", "169.254.3.3/16")


def test_bucket_allows_burst_then_rate() -> None:
    limiter = RateLimiter(rate=2.0, burst=4)
    assert [limiter.allow("a", 0.0) for _ in range(5)] == [True] * 4 + [False]
    assert limiter.allow("b", 0.0)  # other sources are not affected
    assert not limiter.allow("a", 0.4)
    assert limiter.allow("a", 0.5)  # one token regained after 0.5 s at 2/s
    assert limiter.available("a", 100.0) == 4  # never above the burst


def test_one_bucket_keeps_a_keyed_buckets_rule() -> None:
    # the advertiser's total reply limit: one TokenBucket, spent as a RateLimiter key is
    bucket, keyed = TokenBucket(rate=2.0, burst=4), RateLimiter(rate=2.0, burst=4)
    times = [5.0] * 6 + [5.4, 5.5, 5.5, 4.0, 4.2, 9.0, 9.0, 100.0] + [100.0] * 5
    assert [bucket.allow(t) for t in times] == [keyed.allow("*", t) for t in times]
    assert [bucket.allow(t) for t in times[:7]] == [False] * 7  # (spent, a clock gone back)
    with pytest.raises(ValueError):
        TokenBucket(rate=0, burst=1)


def test_bucket_memory_is_bounded() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, max_keys=100)
    for i in range(10_000):
        limiter.allow(f"10.0.{i // 256}.{i % 256}", 0.0)
    assert len(limiter) == 100


def test_default_selection_is_every_lan_interface() -> None:
    assert select_interfaces([LO, ETH0, ETH1, LINK]) == [ETH0, ETH1]


def test_loopback_only_host_falls_back_to_loopback() -> None:
    assert select_interfaces([LO]) == [LO]
    with pytest.raises(NoInterfaceError):
        select_interfaces([])


def test_selection_by_name_or_address() -> None:
    assert select_interfaces([LO, ETH0, ETH1], ["eth1"]) == [ETH1]
    assert select_interfaces([LO, ETH0, ETH1], ["198.51.100.11", "eth0"]) == [ETH0]
    with pytest.raises(NoInterfaceError, match="wlan0"):
        select_interfaces([LO, ETH0], ["wlan0"])


def test_sender_interface_by_subnet() -> None:
    assert interface_for([ETH0, ETH1], "198.51.100.200") is ETH0
    assert interface_for([ETH0, ETH1], "10.1.255.1") is ETH1
    assert interface_for([ETH0, ETH1], "203.0.113.9") is None
    assert interface_for([ETH0], "fe80::1") is None


def test_the_default_choice_skips_what_is_not_a_lan_and_says_why() -> None:
    from ssdp_upnp.lan import choose_interfaces

    candidates = [LO, ETH0] + [
        Interface.parse(name, cidr) for name, cidr in (
            ("docker0", "172.17.0.1/16"), ("veth1a2b", "172.18.0.1/16"),
            ("br-5f3c", "172.19.0.1/16"), ("virbr0", "192.168.122.1/24"),
            ("cni0", "10.88.0.1/16"), ("flannel.1", "10.244.0.0/32"),
            ("tun0", "10.8.0.2/24"), ("tap0", "10.9.9.2/24"), ("wg0", "10.66.0.2/24"),
            ("tailscale0", "100.100.1.2/32"), ("zt3jnkd", "10.147.17.2/24"),
            ("utun3", "10.7.0.2/24"), ("ppp0", "10.64.0.9/32"), ("eth9", "8.8.4.4/24"),
        )
    ]  # fmt: skip
    chosen, skipped = choose_interfaces(candidates, point_to_point={"ppp0"})
    assert chosen == [ETH0]
    reasons = {s.interface.name: s.reason for s in skipped}
    assert reasons["lo"] == "loopback"
    assert all("container bridge or a tunnel" in reasons[n] for n in (
        "docker0", "veth1a2b", "br-5f3c", "virbr0", "cni0", "flannel.1", "tun0", "tap0", "wg0",
        "tailscale0", "zt3jnkd", "utun3"))  # fmt: skip
    assert reasons["ppp0"] == "a point-to-point link" and "public" in reasons["eth9"]
    # named, any of them is used; excluded, never
    assert choose_interfaces(candidates, ["docker0"])[0] == [candidates[2]]
    chosen, skipped = choose_interfaces([LO, ETH0, ETH1], exclude=["eth1"])
    assert chosen == [ETH0] and ("eth1", "excluded") in {(s.interface.name, s.reason)
                                                         for s in skipped}  # fmt: skip
    with pytest.raises(NoInterfaceError, match="every interface is excluded"):
        choose_interfaces([ETH0], exclude=[ETH0.ip])
