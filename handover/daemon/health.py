"""Named health states per adapter instance, shown in /readyz and as a metric."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from handover import metrics
from handover.sdk.contracts import Health

log = structlog.get_logger("handover.daemon.health")


@dataclass(frozen=True, slots=True)
class HealthEntry:
    kind: str
    health: Health
    detail: str = ""


class HealthBoard:
    """The connection state of every adapter; upstream trouble degrades, never unreadies."""

    def __init__(self) -> None:
        self._entries: dict[str, HealthEntry] = {}

    def set(self, name: str, kind: str, health: Health, detail: str = "") -> None:
        old = self._entries.get(name)
        self._entries[name] = HealthEntry(kind, health, detail)
        metrics.ADAPTER_HEALTH.labels(name, kind).set(1 if health is Health.CONNECTED else 0)
        if old is None or old.health is not health:
            log.info("adapter.health_changed", adapter=name, kind=kind, health=health.value)

    def snapshot(self) -> dict[str, HealthEntry]:
        return dict(self._entries)

    def degraded(self) -> bool:
        return any(e.health is not Health.CONNECTED for e in self._entries.values())
