"""Which agents are signed in, across every daemon instance on one store.

Each live agent page holds a record `online:<connection id>` in the console's state
with the tenants the agent sees, written when the page signs in, renewed every
`RENEW_SECONDS` while its socket stays open and deleted when it closes. A record
expires `TTL_SECONDS` after its last renewal, so the page of an instance that died
stops counting within that time. The availability check reads the records of every
instance: an agent signed in to instance A makes the desk available to a citizen whose
handover instance B decides.
"""

from __future__ import annotations

from collections.abc import Iterable

from handover.sdk.state import AdapterState

__all__ = ["RENEW_SECONDS", "TTL_SECONDS", "Presence"]

_ONLINE = "online:"
TTL_SECONDS = 30.0
RENEW_SECONDS = 10.0
#: Pages read at most by one availability check.
MAX_PAGES = 2000


class Presence:
    """The online records of one console instance's agents (see the module docstring)."""

    def __init__(self, state: AdapterState) -> None:
        self.state = state

    async def arrive(self, connection_id: str, agent_id: str, tenants: Iterable[str]) -> None:
        """A page signed in, or renews its record."""
        await self.state.put(
            _ONLINE + connection_id, {"agent": agent_id, "tenants": sorted(tenants)},
            ttl_seconds=TTL_SECONDS,
        )  # fmt: skip

    async def leave(self, connection_id: str) -> None:
        await self.state.delete(_ONLINE + connection_id)

    async def online(self, tenant: str) -> int:
        """How many pages that see `tenant` are connected, on any instance."""
        records = await self.state.scan(_ONLINE, limit=MAX_PAGES)
        return sum(1 for _, r in records if tenant in r.value.get("tenants", ()))

    async def agents(self, tenant: str) -> set[str]:
        """The ids of the agents with a connected page that sees `tenant`, on any instance
        (an agent with two tabs counts once)."""
        records = await self.state.scan(_ONLINE, limit=MAX_PAGES)
        return {str(r.value.get("agent")) for _, r in records
                if tenant in r.value.get("tenants", ())}
