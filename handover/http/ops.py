"""Operations endpoints: /healthz (liveness), /readyz (readiness), /metrics.

Mount with `app.add_routes(ops_routes(view))`; the daemon is the `OpsView`.

- /healthz answers 200 whenever the event loop runs a handler. It checks no dependency
  on purpose: a liveness failure restarts the process, and restarting does not fix a
  database or an upstream outage.
- /readyz answers 503 only for what makes this process unable to take work: the store
  does not answer (within `ping_timeout`), its schema is not the one the daemon
  expects, the daemon drains, or one of the daemon's own loops died. An adapter's
  upstream outage (OBI4wan, the bot) never does: every instance would be taken out of
  the load balancer for something none of them can fix, and what is accepted
  meanwhile waits durably in the outbox. Such trouble shows as `"status": "degraded"`.
- /metrics renders `handover.metrics.REGISTRY`, after refreshing the outbox gauges.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Protocol

import structlog
from aiohttp import hdrs, web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from handover import metrics
from handover.daemon.health import HealthBoard
from handover.sdk.contracts import Health
from handover.store.base import Store

log = structlog.get_logger("handover.http.ops")

#: Seconds /readyz and /metrics wait for the store before giving up on it.
STORE_TIMEOUT = 2.0

#: HealthBoard entries of this kind are the daemon's own loops (outbox worker, timers),
#: not adapters: the daemon marks one DISCONNECTED when it died, and without it nothing
#: accepted gets delivered, so that does make the process unready.
CORE_KIND = "core"


class OpsView(Protocol):
    """What the operations and admin endpoints need from the daemon."""

    @property
    def store(self) -> Store: ...

    @property
    def health(self) -> HealthBoard: ...

    @property
    def draining(self) -> bool: ...

    @property
    def admin_tokens(self) -> tuple[str, ...]:
        """Accepted admin bearer tokens (two during rotation); empty disables /admin."""
        ...

    def now(self) -> datetime: ...

    def wake_delivery(self) -> None:
        """Nudge the outbox worker (after a dead letter was put back)."""
        ...

    @property
    def expected_schema_version(self) -> int: ...


def ops_routes(view: OpsView, *, store_timeout: float = STORE_TIMEOUT) -> list[web.RouteDef]:
    """Route definitions for /healthz, /readyz and /metrics (GET, and HEAD).

    `store_timeout` bounds each store call made by a probe or a scrape, so a hung
    database makes /readyz answer 503 promptly instead of making the probe time out.
    """
    last_ready: list[bool | None] = [None]  # readiness last reported, to log changes only

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        reasons: list[str] = []
        store: dict[str, Any] = {
            "reachable": False,
            "schema_version": None,
            "expected_schema_version": view.expected_schema_version,
        }
        error: str | None = None
        try:
            async with asyncio.timeout(store_timeout):
                await view.store.ping()
                store["reachable"] = True
                store["schema_version"] = await view.store.schema_version()
        except TimeoutError:
            reasons.append("store_timeout")
            error = f"no answer within {store_timeout} s"
        except Exception as exc:  # any failure of the store means "cannot serve"
            # The exception text stays in the log: /readyz is unauthenticated and a
            # driver's message may name hosts or paths.
            reasons.append("store_unavailable")
            error = f"{type(exc).__name__}: {exc}"
        if store["reachable"] and store["schema_version"] != view.expected_schema_version:
            reasons.append("schema_mismatch")
        if view.draining:
            reasons.append("draining")

        snapshot = view.health.snapshot()
        if any(e.kind == CORE_KIND and e.health is not Health.CONNECTED for e in snapshot.values()):
            reasons.append("core_loop_down")
        adapters = {
            name: {"kind": e.kind, "health": e.health.value, "detail": e.detail}
            for name, e in sorted(snapshot.items())
        }

        ready = not reasons
        status = "unready"
        if ready:
            status = "degraded" if view.health.degraded() else "ready"
        if ready != last_ready[0]:
            # Probes come every few seconds; log transitions, not every answer.
            if ready:
                log.info("readiness.ready", status=status)
            else:
                log.warning("readiness.unready", reasons=reasons, error=error)
            last_ready[0] = ready

        body: dict[str, Any] = {
            "status": status,
            "draining": view.draining,
            "store": store,
            "adapters": adapters,
        }
        if reasons:
            body["reason"] = reasons[0]
            body["reasons"] = reasons
        return web.json_response(body, status=200 if ready else 503)

    async def metrics_handler(request: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(store_timeout):
                depth, oldest_age = await view.store.outbox_stats(view.now())
        except Exception as exc:  # incl. TimeoutError
            # Render anyway: the other metrics (and the gap in these two gauges'
            # freshness) are exactly what an operator needs during a store outage.
            log.warning("metrics.outbox_stats_failed", error=type(exc).__name__)
        else:
            metrics.OUTBOX_DEPTH.set(depth)
            metrics.OUTBOX_OLDEST_AGE.set(oldest_age)
        # CONTENT_TYPE_LATEST carries a charset parameter, which aiohttp refuses in
        # `content_type=`; set the header directly.
        return web.Response(
            body=generate_latest(metrics.REGISTRY),
            headers={hdrs.CONTENT_TYPE: CONTENT_TYPE_LATEST},
        )

    return [
        web.get("/healthz", healthz),
        web.get("/readyz", readyz),
        web.get("/metrics", metrics_handler),
    ]
