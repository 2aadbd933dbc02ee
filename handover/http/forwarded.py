"""The citizen's address behind a reverse proxy or load balancer.

Per-address limits (the widget's connection and frame rates) must count citizens, not
the load balancer in front of several instances. When the TCP peer is one of
`[server] trusted_proxies`, the client address is taken from `X-Forwarded-For`: the
rightmost entry that is not itself a trusted proxy, so a client cannot choose its
address by sending the header itself. Requests from any other peer keep their own
address, and their `X-Forwarded-For` is ignored: Prometheus or a probe may connect
directly. (aiohttp-remotes' strict mode refuses such direct requests instead.)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Sequence[str]) -> tuple[Network, ...]:
    """Addresses or networks ("10.0.0.0/8", "::1"); ValueError names the bad one."""
    out: list[Network] = []
    for value in values:
        try:
            out.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or network") from None
    return tuple(out)


def client_address(peer: str | None, forwarded_for: Sequence[str],
                   trusted: Sequence[Network]) -> str | None:
    """The client's address given the TCP peer and the X-Forwarded-For headers."""
    if peer is None or not _is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
    for hop in reversed(hops):
        if not hop:
            continue
        if not _is_address(hop):
            return peer  # a garbled header: keep what the socket says
        if not _is_trusted(hop, trusted):
            return hop
    # Every hop is a trusted proxy: the leftmost is the closest to a client we know.
    return next((hop for hop in hops if hop), peer)


def forwarded_middleware(trusted: Sequence[Network]) -> Middleware:
    """Sets `request.remote` to the client's address for requests through `trusted`."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        remote = client_address(request.remote, request.headers.getall(
            hdrs.X_FORWARDED_FOR, []), trusted)
        if remote is not None and remote != request.remote:
            request = request.clone(remote=remote)
        return await handler(request)

    return middleware


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)
