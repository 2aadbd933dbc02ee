"""Who may open the console's live socket, decided before the websocket upgrade.

An upgraded socket costs memory and a task until it closes, so nothing is upgraded
for a client that has not proven to be an agent of this console:

- **Token in the subprotocol header.** A browser cannot set an Authorization header on
  a websocket, and a token in the URL ends up in proxy access logs. The page offers two
  subprotocols, `handover.console` and `auth.<token, base64url without padding>`; the
  server answers with `handover.console` only, so the token is never echoed. Missing:
  401; no agent's token: 403.
- **Origin.** A browser page of another site must not use an agent's browser to open
  the socket: a request whose `Origin` is neither this console's own (same host) nor
  one of the configured `origins` is refused with 403. A request without `Origin`
  comes from no browser (a script with the token), and is let through.
- **Caps.** At most `MAX_PER_ADDRESS` sockets per client address and `MAX_SOCKETS` in
  total (429 beyond), so a client with a valid token cannot exhaust the daemon either.
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from collections.abc import Callable
from urllib.parse import urlsplit

from aiohttp import hdrs, web

from adapters.console.options import Agent
from handover.sdk.http import ApiError

__all__ = ["AUTH_PREFIX", "MAX_PER_ADDRESS", "MAX_SOCKETS", "PROTOCOL", "LiveGate"]

PROTOCOL = "handover.console"
AUTH_PREFIX = "auth."
MAX_SOCKETS = 500
#: Agents of one contact centre may share one public address (NAT): room for them.
MAX_PER_ADDRESS = 50
_MAX_OFFER = 1024
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


class LiveGate:
    """Admits live sockets (see the module docstring) and counts the open ones."""

    def __init__(self, authenticate: Callable[[str], Agent | None],
                 origins: frozenset[str]) -> None:
        self.authenticate = authenticate
        self.origins = origins
        self.open: Counter[str] = Counter()

    def admit(self, request: web.Request) -> Agent:
        """The agent opening the socket; raises ApiError (answered before any upgrade)."""
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is not None and not self._origin_allowed(origin, request):
            raise ApiError(403, "forbidden_origin", "this origin may not open the console")
        token = _offered_token(request)
        if token is None:
            raise ApiError(401, "unauthorized",
                           f"offer the subprotocols {PROTOCOL!r} and 'auth.<base64url token>'")
        agent = self.authenticate(token)
        if agent is None:
            raise ApiError(403, "forbidden", "the token belongs to no agent of this console")
        address = request.remote or "?"
        if sum(self.open.values()) >= MAX_SOCKETS or self.open[address] >= MAX_PER_ADDRESS:
            raise ApiError(429, "too_many_connections", "too many live connections",
                           {"Retry-After": "10"})
        return agent

    def opened(self, request: web.Request) -> str:
        address = request.remote or "?"
        self.open[address] += 1
        return address

    def closed(self, address: str) -> None:
        self.open[address] -= 1
        if self.open[address] <= 0:
            del self.open[address]

    def _origin_allowed(self, origin: str, request: web.Request) -> bool:
        if origin in self.origins:
            return True
        # Same origin: the page was served by this console under the same host. The
        # scheme is not compared: behind a TLS-terminating proxy the daemon sees http.
        try:
            theirs, ours = urlsplit(origin), urlsplit("//" + request.host)
            default = _DEFAULT_PORTS.get(theirs.scheme)
            return theirs.hostname is not None and theirs.hostname == ours.hostname \
                and (theirs.port or default) == (ours.port or default)
        except ValueError:
            return False


def _offered_token(request: web.Request) -> str | None:
    for header in request.headers.getall(hdrs.SEC_WEBSOCKET_PROTOCOL, []):
        for offer in header.split(","):
            offer = offer.strip()
            if offer.startswith(AUTH_PREFIX) and len(offer) <= _MAX_OFFER:
                encoded = offer[len(AUTH_PREFIX):]
                try:
                    raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
                    return raw.decode("utf-8")
                except (binascii.Error, ValueError):
                    return ""
    return None
