"""The retention purge: per tenant, bodies after `bodies_days`, everything after
`metadata_days`, both counted from a conversation's last activity.

Runs inside the daemon every `PURGE_INTERVAL` and on demand with `handover purge`.
It works in batches of `BATCH` conversations, one short transaction each, and yields
to the event loop between batches, so the daemon's own writes (a single writer on
SQLite) are never held up for long. It is idempotent: a purged conversation is only
taken again when it was active after its purge, so a second run finds nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from handover import metrics
from handover.config.model import TenantConfig
from handover.store.base import Store

log = structlog.get_logger("handover.retention")

#: Conversations per transaction: small enough that a batch takes milliseconds.
BATCH = 200
#: How often the daemon purges. Retention is counted in days; an hour late is fine.
PURGE_INTERVAL = timedelta(hours=1)


@dataclass(slots=True)
class PurgeResult:
    """Conversations purged per tenant: bodies removed, and deleted altogether."""

    bodies: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.bodies.values()) + sum(self.deleted.values())


async def purge(
    store: Store,
    tenants: Mapping[str, TenantConfig],
    now: datetime,
    *,
    batch: int = BATCH,
) -> PurgeResult:
    """Apply every tenant's retention as of `now`; returns what was purged.

    Metadata first: a conversation past both limits is deleted at once instead of
    having its bodies removed first. Raises StoreError when the store cannot serve
    (what was purged until then stays purged).
    """
    result = PurgeResult()
    for tenant in tenants.values():
        policy = tenant.retention
        deleted = 0
        cutoff = now - timedelta(days=policy.metadata_days)
        while n := await store.purge_metadata(tenant.id, cutoff, batch):
            deleted += n
            await asyncio.sleep(0)  # let queued steps in between batches
        bodies = 0
        cutoff = now - timedelta(days=policy.bodies_days)
        while n := await store.purge_bodies(tenant.id, cutoff, now, batch):
            bodies += n
            await asyncio.sleep(0)
        result.bodies[tenant.id] = bodies
        result.deleted[tenant.id] = deleted
        metrics.RETENTION_PURGED.labels(tenant.id, "bodies").inc(bodies)
        metrics.RETENTION_PURGED.labels(tenant.id, "conversations").inc(deleted)
        if bodies or deleted:
            log.info("retention.purged", tenant=tenant.id, bodies=bodies, deleted=deleted)
    return result
