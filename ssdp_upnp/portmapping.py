"""
Keeping ports open on the gateway for as long as the node runs.

L{PortMappingService} maps each L{Forward} with a finite lease, renews it by
adding it again before the lease ends (never delete-then-add), checks that it
is still there (a rebooted router forgets its mappings and may even move its
control URL: the gateway is then found again), logs external address changes,
and deletes its mappings when stopped. L{Nat} is the seed's API for Twisted
code: one-off calls returning Deferreds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import cast

from twisted.application.service import Service
from twisted.internet.defer import CancelledError, Deferred, DeferredList, ensureDeferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

__all__ = ["Forward", "GatewayFinder", "Nat", "PortMappingService"]

from .errors import (
    ConfigurationError,
    ConflictInMappingEntry,
    GatewayError,
    GatewayHTTPError,
    MappingRefused,
    SSDPUPnPError,
)
from .forward import Forward, check_protocol
from .lan import Interface
from .mapping import IPortMapper, PortMapping, external_address

#: How a service finds its way to forward ports (e.g. a L{ssdp_upnp.nat_ladder.NATLadder}).
GatewayFinder = Callable[[], Awaitable[IPortMapper]]
#: After an add timed out, the next pass (which looks for a late mapping) is at most this far.
UNCONFIRMED_CHECK = 10.0


class PortMappingService(Service):
    """
    Keep C{forwards} mapped on the gateway that C{find} finds.

    @param lease: the lease asked for, in seconds (finite: if the node dies
        without cleaning up, the router drops the mapping by itself).
    @param check_interval: seconds between checks that the mappings still exist.
    @param first_check: seconds from start to the first pass (0: map at once).

    Mappings are owned: a forward whose port another host holds moves to
    another port (AddAnyPortMapping, or the next free one on IGD1); a forward
    the gateway refuses loses its public address at once; on stop only the
    mappings the gateway still lists as ours are deleted; an add that timed
    out is looked for afterwards and deleted if the router made it late.

    @ivar mappings: the live mappings by forward.
    @ivar external_ip: the gateway's external address, once known.
    """

    log = Logger()

    def __init__(
        self,
        reactor: IReactorTime,
        forwards: Sequence[Forward],
        find: GatewayFinder,
        *,
        lease: int = 3600,
        check_interval: float = 60.0,
        retry_max: float = 300.0,
        description: str = "ssdp_upnp",
        stop_timeout: float = 10.0,
        first_check: float = 0.0,
    ) -> None:
        if lease < 120:
            raise ConfigurationError(f"lease {lease} is under 120 seconds")
        if check_interval < 1:
            raise ConfigurationError("the check interval must be at least 1 second")
        self.reactor = reactor
        self.forwards = list(forwards)
        self.find = find
        self.lease = lease
        self.check_interval = check_interval
        self.retry_max = retry_max
        self.description = description
        self.stop_timeout = stop_timeout
        self.gateway: IPortMapper | None = None
        self.mappings: dict[Forward, PortMapping] = {}
        self.external_ip: str | None = None
        self._renew_at: dict[Forward, float] = {}
        self._stale: list[PortMapping] = []  # mappings to an address we no longer have
        self._unconfirmed: dict[Forward, int] = {}  # timed-out adds: passes left to check
        self.first_check = first_check
        self._timer: IDelayedCall | None = None
        self._running: Deferred[None] | None = None
        self._failures = 0
        self._observers: list[Callable[[PortMappingService], None]] = []

    def public_addresses(self) -> list[tuple[str, int, str, int]]:
        """(external ip, external port, protocol, internal port) of every live mapping."""
        if self.external_ip is None:
            return []
        return [
            (self.external_ip, m.external_port, m.protocol, m.internal_port)
            for m in self.mappings.values()
        ]

    def observe(self, callback: Callable[[PortMappingService], None]) -> None:
        """Call C{callback(service)} after every cycle that changed a mapping or the address."""
        self._observers.append(callback)

    def add(self, forward: Forward) -> Deferred[PortMapping]:
        """
        Keep C{forward} mapped too, from now on, and map it now (the gateway
        is found first if need be).

        @return: a Deferred that fires with the mapping once the gateway made
            it, or fails with the gateway's error (L{SSDPUPnPError}); then the
            forward is not kept.
        """

        async def run() -> PortMapping:
            kept = forward in self.forwards
            if not kept:
                self.forwards.append(forward)
            try:
                if self.gateway is None:
                    self._use(await self.find())
                gateway = self.gateway
                assert gateway is not None
                if self.external_ip is None:
                    self.external_ip = await self._address_before_mapping(gateway)
                changed = await self._keep(gateway, forward)
            except BaseException as e:
                if not kept:
                    self.forget(forward)
                if not isinstance(e, MappingRefused):
                    self._drop_gateway()  # no answer or a bad one: find it again next time
                    if not kept and isinstance(e, GatewayHTTPError | CancelledError):
                        self._unconfirmed[forward] = 3  # the router may make it yet
                        self._look_again_within(UNCONFIRMED_CHECK)
                raise
            if changed:
                self._notify()
            return self.mappings[forward]

        return Deferred.fromCoroutine(run())

    def forget(self, forward: Forward) -> PortMapping | None:
        """
        Stop keeping C{forward} (its mapping stays on the gateway until its
        lease ends or it is deleted); returns its mapping, if there was one.
        """
        if forward in self.forwards:
            self.forwards.remove(forward)
        self._renew_at.pop(forward, None)
        mapping = self.mappings.pop(forward, None)
        if mapping is not None:
            self._notify()
        return mapping

    def update_interfaces(self, current: Sequence[Interface]) -> None:
        """
        The host's interfaces changed: if our address toward the gateway is
        gone, the gateway is found again at once, the mappings that forward to
        the old address are deleted (they hold the external ports; where the
        router refuses, their lease ends them) and the forwards mapped to the
        new address.
        """
        gateway = self.gateway
        if gateway is None or gateway.local_address in {i.ip for i in current}:
            return
        self.log.info(
            "our address {address} toward the gateway is gone; mapping again",
            address=gateway.local_address,
        )
        self._drop_gateway()
        dropped = bool(self.mappings)
        self._stale.extend(self.mappings.values())
        self.mappings.clear()
        self._renew_at.clear()
        if dropped:
            self._notify()
        if not self.running:
            return
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        running, self._running = self._running, None
        if running is not None:
            running.cancel()
        self._schedule(0)

    def _use(self, gateway: IPortMapper) -> None:
        self.gateway = gateway
        gateway.observe_reset(lambda: self._gateway_reset(gateway))
        gateway.listen()

    def _drop_gateway(self) -> None:
        gateway, self.gateway = self.gateway, None
        if gateway is not None:
            gateway.close()

    def _gateway_reset(self, gateway: IPortMapper) -> None:
        """The gateway lost its mappings (it restarted): map everything again now."""
        if gateway is not self.gateway:
            return
        self.log.warn("the gateway lost its mappings (restarted?); mapping again")
        for forward in self._renew_at:
            self._renew_at[forward] = 0.0  # due: the next pass adds them again, same ports
        if self.running and self._timer is not None and self._timer.active():
            self._timer.cancel()
            self._schedule(0)

    def _notify(self) -> None:
        for observer in list(self._observers):
            observer(self)

    # -- service

    def startService(self) -> None:
        super().startService()
        self._schedule(self.first_check)

    def stopService(self) -> Deferred[None]:
        super().stopService()
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        running, self._running = self._running, None
        if running is not None:
            running.cancel()
        done = ensureDeferred(self._remove_all())
        done.addBoth(self._closed)
        return done

    def _closed(self, result: object) -> object:
        self._drop_gateway()
        return result

    async def _remove_all(self) -> None:
        gateway = self.gateway
        mappings, self.mappings = self.mappings, {}
        self._renew_at.clear()
        if gateway is None or not mappings:
            return
        deletions = []
        for mapping in mappings.values():
            d = Deferred.fromCoroutine(self._delete_if_ours(gateway, mapping))
            d.addTimeout(self.stop_timeout, self.reactor)
            deletions.append(d)
        results = await DeferredList(deletions, consumeErrors=True)
        for (ok, result), mapping in zip(results, mappings.values(), strict=True):
            if ok and result:
                self.log.info("removed mapping {protocol} {port}", protocol=mapping.protocol,
                              port=mapping.external_port)  # fmt: skip
            elif ok:
                self.log.warn(
                    "mapping {protocol} {port} is no longer ours (another host holds it): left"
                    " in place", protocol=mapping.protocol, port=mapping.external_port,
                )  # fmt: skip
            else:
                self.log.warn(
                    "could not remove mapping {protocol} {port}: {error}; its lease ends it",
                    protocol=mapping.protocol,
                    port=mapping.external_port,
                    error=cast(Failure, result).getErrorMessage(),
                )

    @staticmethod
    def is_ours(present: PortMapping, internal_client: str, internal_port: int,
                description: str) -> bool:  # fmt: skip
        """Whether the mapping the gateway lists is the one we made (a router may drop
        the description: then client and port decide)."""
        return (
            present.internal_client == internal_client
            and present.internal_port == internal_port
            and (not present.description or present.description == description)
        )

    async def _delete_if_ours(self, gateway: IPortMapper, mapping: PortMapping) -> bool:
        """Delete C{mapping} if the gateway still has it for us; say whether it did."""
        present = await gateway.get_mapping(mapping.external_port, mapping.protocol)
        if present is None or not self.is_ours(
            present, mapping.internal_client, mapping.internal_port, mapping.description
        ):
            return False
        await gateway.delete_mapping(mapping.external_port, mapping.protocol)
        return True

    # -- the cycle

    def _look_again_within(self, delay: float) -> None:
        """Make the next pass come within C{delay} seconds (if none is under way)."""
        if not self.running or self._timer is None or not self._timer.active():
            return
        if self._timer.getTime() - self.reactor.seconds() > delay:
            self._timer.cancel()
            self._schedule(delay)

    def _schedule(self, delay: float) -> None:
        self._timer = self.reactor.callLater(delay, self._run_cycle)

    def _run_cycle(self) -> None:
        self._timer = None
        self._running = ensureDeferred(self._cycle())
        self._running.addErrback(self._cycle_failed)

    def _cycle_failed(self, failure: Failure) -> None:
        if not failure.check(CancelledError):  # stopped, or moved to other interfaces
            self.log.failure("port mapping cycle", failure)

    async def _cycle(self) -> None:
        try:
            changed, refused = await self._maintain()
        except (SSDPUPnPError, OSError) as e:
            if not isinstance(e, MappingRefused):
                # the router went away, rebooted, or moved its control URL: find it again
                self._drop_gateway()
            self._retry(f"{e}")
            return
        if changed:
            self._notify()
        if refused:
            self._retry(f"{refused} forward(s) refused")
            return
        self._failures = 0
        if self.running:
            now = self.reactor.seconds()
            next_renewal = min(self._renew_at.values(), default=now + self.check_interval)
            self._schedule(max(0.0, min(self.check_interval, next_renewal - now)))

    def _retry(self, why: str) -> None:
        self._failures += 1
        delay = min(self.retry_max, 2.0 ** min(self._failures, 16))
        self.log.warn("port mapping incomplete ({why}); retrying in {delay:.0f}s",
                      why=why, delay=delay)  # fmt: skip
        if self.running:
            self._schedule(delay)

    async def _maintain(self) -> tuple[bool, int]:
        """One pass: gateway, address, every forward. Returns (changed, forwards refused)."""
        changed = False
        refused = 0
        if self.gateway is None:
            self._use(await self.find())
            self.log.info("using gateway {gateway}", gateway=self.gateway)
        gateway = self.gateway
        assert gateway is not None
        await self._remove_stale(gateway)
        await self._check_unconfirmed(gateway)
        ip = await self._address_before_mapping(gateway)
        address = external_address(ip) if ip is not None else None
        if address is not None and address.ip != self.external_ip:
            if self.external_ip is not None:
                self.log.warn("external address changed from {old} to {new}",
                              old=self.external_ip, new=address.ip)  # fmt: skip
            self.external_ip = address.ip
            changed = True
            if address.double_nat:
                self.log.warn(
                    "the gateway's external address {ip} is private or shared (double NAT or"
                    " CGNAT): its mappings do not make this node reachable from the internet",
                    ip=address.ip,
                )
        for forward in self.forwards:
            try:
                changed = await self._keep(gateway, forward) or changed
            except MappingRefused as e:
                refused += 1
                self.log.error("the gateway refuses {protocol} {external} -> {internal}: {error}",
                               protocol=forward.protocol, external=forward.external_port,
                               internal=forward.internal_port, error=e)  # fmt: skip
                # the public address it had is not ours any more: withdraw it at once
                self._renew_at.pop(forward, None)
                if self.mappings.pop(forward, None) is not None:
                    changed = True
        return changed, refused

    async def _address_before_mapping(self, gateway: IPortMapper) -> str | None:
        """
        The external address, or None from a PCP-only server that tells it
        only with a mapping (the first forward's then gives it, see L{_keep}).
        """
        try:
            return (await gateway.get_external_ip()).ip
        except GatewayError:
            if gateway.method != "pcp":
                raise
            return None

    async def _check_unconfirmed(self, gateway: IPortMapper) -> None:
        """
        An add that timed out may still have been made by the router later: a
        mapping nobody owns. Look for it on the next few passes and delete it.
        """
        for forward, tries in list(self._unconfirmed.items()):
            if forward in self.forwards:
                del self._unconfirmed[forward]  # kept after all: the cycle owns it
                continue
            present = await gateway.get_mapping(forward.external_port, forward.protocol)
            if present is not None and self.is_ours(
                present, gateway.local_address, forward.internal_port, self.description
            ):
                await gateway.delete_mapping(forward.external_port, forward.protocol)
                self.log.warn(
                    "removed {protocol} {port}: the gateway made it after our add timed out",
                    protocol=forward.protocol, port=forward.external_port,
                )  # fmt: skip
                del self._unconfirmed[forward]
            elif tries <= 1:
                del self._unconfirmed[forward]
            else:
                self._unconfirmed[forward] = tries - 1

    async def _remove_stale(self, gateway: IPortMapper) -> None:
        """Delete the mappings left pointing at an address we had (they hold the ports)."""
        stale, self._stale = self._stale, []
        for mapping in stale:
            try:
                await gateway.delete_mapping(mapping.external_port, mapping.protocol)
            except MappingRefused as e:  # e.g. 606 in secure mode: another address's mapping
                self.log.warn(
                    "cannot remove {protocol} {port} of our old address {client}: {error};"
                    " its lease ends it",
                    protocol=mapping.protocol, port=mapping.external_port,
                    client=mapping.internal_client, error=e,
                )  # fmt: skip

    async def _keep(self, gateway: IPortMapper, forward: Forward) -> bool:
        """Make sure C{forward} is mapped and not due for renewal; say if its mapping changed."""
        current = self.mappings.get(forward)
        if current is not None and self._renew_at[forward] > self.reactor.seconds():
            present = await gateway.get_mapping(current.external_port, current.protocol)
            if present is not None and present.internal_client == current.internal_client:
                return False
            self.log.warn("mapping {protocol} {port} is gone from the gateway; re-creating",
                          protocol=current.protocol, port=current.external_port)  # fmt: skip
        port = current.external_port if current else forward.external_port
        try:
            mapping = await gateway.add_mapping(
                port, forward.internal_port, forward.protocol, lease=self.lease,
                description=self.description,
            )  # fmt: skip
        except ConflictInMappingEntry:
            # another host (or a manual forward) holds the port: take another one
            mapping = await gateway.add_any_mapping(
                port, forward.internal_port, forward.protocol, lease=self.lease,
                description=self.description,
            )  # fmt: skip
            self.log.warn(
                "{protocol} {port} is held by another host; forwarding {got} instead",
                protocol=forward.protocol, port=port, got=mapping.external_port,
            )  # fmt: skip
        self.mappings[forward] = mapping
        if self.external_ip is None:  # a PCP-only server: known now, from the mapping
            self.external_ip = (await gateway.get_external_ip()).ip
        # renew at half the lease (a permanent mapping is still checked every interval)
        self._renew_at[forward] = self.reactor.seconds() + (mapping.lease or self.lease) / 2.0
        if current is not None and current.external_port == mapping.external_port:
            return False
        self.log.info(
            "forwarding {ip}:{external} ({protocol}) to {client}:{internal}",
            ip=f"[{self.external_ip}]"
            if self.external_ip and ":" in self.external_ip
            else self.external_ip,
            external=mapping.external_port,
            protocol=mapping.protocol,
            client=mapping.internal_client,
            internal=mapping.internal_port,
            event="port_forwarded",
        )
        return True


class Nat:
    """
    The seed's C{Nat} for Twisted code: the same method names, returning
    Deferreds, and honest about what happened.

    @param find: how to find the gateway (e.g. C{lambda: find_gateway(reactor, interfaces)}).
    """

    log = Logger()

    def __init__(
        self,
        find: GatewayFinder,
        *,
        protocol: str = "TCP",
        lease: int = 3600,
        description: str = "ssdp_upnp",
    ) -> None:
        self.find = find
        self.protocol = check_protocol(protocol)
        self.lease = lease
        self.description = description
        self._gateway: IPortMapper | None = None

    async def _gateway_now(self) -> IPortMapper:
        if self._gateway is None:
            self._gateway = await self.find()
        return self._gateway

    def addPortForward(
        self, internal_port: int, external_port: int, protocol: str | None = None
    ) -> Deferred[tuple[str, int] | None]:
        """
        Forward C{external_port} on the gateway to this host's C{internal_port}.

        @return: a Deferred that fires with C{(external_ip, external_port)}, or
            with None if the gateway could not be found or refused (logged).
        """

        async def run() -> tuple[str, int] | None:
            try:
                gateway = await self._gateway_now()
                mapping = await gateway.add_mapping(
                    external_port, internal_port, protocol or self.protocol,
                    lease=self.lease, description=self.description,
                )  # fmt: skip
                address = await gateway.get_external_ip()
            except SSDPUPnPError as e:
                self._forget(e)
                self.log.error("addPortForward({internal}, {external}) failed: {error}",
                               internal=internal_port, external=external_port, error=e)  # fmt: skip
                return None
            return (address.ip, mapping.external_port)

        return Deferred.fromCoroutine(run())

    def removePortForward(self, external_port: int, protocol: str | None = None) -> Deferred[bool]:
        """
        Remove the forward of C{external_port} if it is this host's.

        @return: a Deferred that fires with True if a mapping of ours was
            removed, False if there was none, it belongs to another host, or
            the gateway failed (logged). (miniupnpd answers success to the
            deletion of a mapping that does not exist, so we look first.)
        """

        async def run() -> bool:
            proto = protocol or self.protocol
            try:
                gateway = await self._gateway_now()
                existing = await gateway.get_mapping(external_port, proto)
                if existing is None:
                    return False
                if existing.internal_client != gateway.local_address:
                    self.log.warn("{protocol} {port} is forwarded to {client}, not to us",
                                  protocol=proto, port=external_port,
                                  client=existing.internal_client)  # fmt: skip
                    return False
                await gateway.delete_mapping(external_port, proto)
            except SSDPUPnPError as e:
                self._forget(e)
                self.log.error("removePortForward({external}) failed: {error}",
                               external=external_port, error=e)  # fmt: skip
                return False
            return True

        return Deferred.fromCoroutine(run())

    def _forget(self, error: Exception) -> None:
        # a refusal (a UPnP error code) leaves the gateway usable; anything else
        # (no answer, HTTP failure, bad document) means finding it again next time
        if not isinstance(error, MappingRefused):
            self._gateway = None
