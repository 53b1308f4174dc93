"""The service's guard against fetching internal addresses (server-side request forgery).

The migration service connects wherever its callers say: S3 endpoints, URL-list lines, and whatever those
redirect to. Left alone, a caller could make it fetch its own API, a cloud's metadata service
(``169.254.169.254``, ``fd00:ec2::254``) or anything else on the service's private network, and copy the
answer into a bucket of theirs. :func:`install` (called by ``ferry serve`` only) replaces urllib3's
connect function, which every client the service uses goes through (botocore, the Azure and Google SDKs,
the HTTP source): each host is resolved, every address checked, and the socket connected to the address
that was checked, so a name that resolves differently a moment later (DNS rebinding) and every redirect
are judged by the address actually reached. Loopback, link-local, private, unique-local, shared (CGNAT),
multicast and reserved addresses are refused unless the operator allows them: all of them
(``--allow-private-endpoints``) or some networks (``--allow-network CIDR``).

Nor may the service's answers tell a caller what listens at an address it may reach: a closed port, a
timeout, a name that does not resolve, a TLS failure and a server speaking another protocol all give the
caller one reason (:func:`unreachable`), while the service's own log keeps the cause.

The ``ferry`` CLI never installs it: a user on their own machine reaches whatever they name, and is told
exactly what went wrong.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from ferry.errors import FerryError

E = TypeVar("E", bound=FerryError)

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_INTERNAL = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",  # shared address space; Alibaba's metadata service is 100.100.100.200
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "224.0.0.0/3",  # multicast and reserved, up to the broadcast address
        "::/128",
        "::1/128",
        "64:ff9b:1::/48",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)

REFUSED = (
    "the service does not connect to internal addresses (loopback, private, link-local or metadata); "
    "its operator can allow them with ferry serve --allow-private-endpoints or --allow-network"
)


UNREACHABLE = "{what} could not be reached or did not answer as {server}"


def unreachable(error: type[E], where: str, cause: str, server: str, what: str = "the endpoint") -> E:
    """The error for a peer that could not be reached or did not answer as ``server`` (connection refused,
    a timeout, DNS, TLS, an answer of another protocol). Outside the service its message is the ``cause``;
    in the service (a policy installed) it is one generic reason whatever the cause, and the cause (which
    never holds a secret) goes to the service's log alone: the service is no port scanner."""
    if _policy is None:
        return error(f"{where}: {cause}")
    import logging  # only in the service, where a policy is installed

    logging.getLogger("ferry.netguard").info("%s: %s", where, cause)
    exc = error(f"{where}: {UNREACHABLE.format(what=what, server=server)}")
    exc.opaque = True
    return exc


class RefusedAddressError(ConnectionRefusedError):
    """A connection the guard refused. An OSError, so every client reports it as a failed connection."""

    def __init__(self, host: str) -> None:
        super().__init__(f"{host}: {REFUSED}")


@dataclass(frozen=True)
class Policy:
    allow_private: bool = False
    allowed: tuple[IpNetwork, ...] = ()

    def permits(self, address: IpAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address):
            mapped = address.ipv4_mapped or address.sixtofour
            if mapped is not None and not self.permits(mapped):
                return False
            if address.scope_id:
                address = ipaddress.IPv6Address(str(address).split("%")[0])
        if self.allow_private or _within(address, self.allowed):
            return True
        return not _within(address, _INTERNAL)


def refused_address(exc: BaseException | None) -> str | None:
    """The guard's refusal behind an exception that a client library wrapped (its cause chain)."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, RefusedAddressError):
            return str(exc)
        reason = getattr(exc, "reason", None)
        exc = reason if isinstance(reason, BaseException) else (exc.__cause__ or exc.__context__)
        seen += 1
    return None


def _within(address: IpAddress, networks: Iterable[IpNetwork]) -> bool:
    return any(address in net for net in networks if net.version == address.version)


def parse_networks(texts: Iterable[str]) -> tuple[IpNetwork, ...]:
    """``--allow-network`` values; ValueError names a value that is not a network."""
    networks = []
    for text in texts:
        try:
            networks.append(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError:
            raise ValueError(f"--allow-network {text!r} is not an IP network such as 10.1.0.0/16") from None
    return tuple(networks)


_policy: Policy | None = None


def active() -> Policy | None:
    """The installed policy (``None`` outside the service)."""
    return _policy


def literal_address(host: str) -> IpAddress | None:
    """The address a host names without a DNS lookup: an IP literal, including the legacy IPv4 forms
    (``2130706433``, ``0177.0.0.1``, ``0x7f.1``) that the resolver accepts."""
    host = host.strip("[]").split("%")[0]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefxABCDEFX." for c in host) and host[0].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def refusal(host: str) -> str | None:
    """Why the installed policy refuses a host that is an address literal, checked before anything is
    stored (names are checked when they are resolved, at connection time). ``None`` when it may pass."""
    if _policy is None:
        return None
    address = literal_address(host)
    if address is not None and not _policy.permits(address):
        return REFUSED
    return None


def guarded_connection(
    address: tuple[str, int],
    timeout: Any = socket._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
    source_address: tuple[str, int] | None = None,
    socket_options: Any = None,
) -> socket.socket:
    """urllib3's ``create_connection``, connecting only to addresses the policy permits: the very
    addresses that were checked, never a name resolved again."""
    from urllib3.util.connection import _set_socket_options, allowed_gai_family

    host, port = address
    host = host.strip("[]")
    policy = _policy or Policy()
    error: OSError | None = None
    answers = socket.getaddrinfo(host, port, allowed_gai_family(), socket.SOCK_STREAM)
    for family, kind, proto, _, sockaddr in answers:
        if not policy.permits(ipaddress.ip_address(str(sockaddr[0]).split("%")[0])):
            error = error or RefusedAddressError(host)
            continue
        sock = socket.socket(family, kind, proto)
        try:
            _set_socket_options(sock, socket_options)
            if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            if not isinstance(error, RefusedAddressError):
                error = exc
    raise error or OSError(f"{host}: getaddrinfo returned no address")


def install(policy: Policy) -> None:
    """Guard every connection this process makes through urllib3 from now on."""
    import urllib3.util.connection

    global _policy
    _policy = policy
    urllib3.util.connection.create_connection = guarded_connection
