"""What an adapter package tells the conformance suite about its adapter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from handover.sdk.contracts import Adapter
from handover.sdk.testing.context import TENANT
from handover.sdk.testing.upstream import FakeUpstream

if TYPE_CHECKING:
    from handover.sdk.conformance.run import ConformanceRun


class InboundHook:
    """How to send the adapter one valid inbound message over its own HTTP routes.

    Declare one for a channel or desk with an inbound route (a webhook, a citizen API):
    the suite then checks that a repeated message id is applied once and probes that
    route with oversized and malformed bodies signed or authorised like a valid one.
    """

    method: ClassVar[str] = "POST"

    async def prepare(self, run: ConformanceRun) -> None:
        """Set up what a valid message needs (a conversation in `run.ctx`, a thread...).

        Called once per run, after the adapter started and its routes are served."""

    def path(self, run: ConformanceRun) -> str:
        """The route's path under the adapter's prefix, e.g. `webhook`."""
        raise NotImplementedError

    def body(self, run: ConformanceRun, message_id: str) -> bytes:
        """The raw body of one valid inbound message whose sender's id is `message_id`."""
        raise NotImplementedError

    def headers(self, run: ConformanceRun, body: bytes) -> Mapping[str, str]:
        """Headers for `body` (content type, a signature over it, a bearer token)."""
        return {"Content-Type": "application/json"}


class UpstreamHook:
    """The remote service an adapter calls, faked, and one call that reaches it.

    The suite injects faults into `operation` of the fake and checks how the error
    raised by `call` is classified: 5xx, 429 and timeouts are TransientError (or
    AmbiguousSendError when the body may have arrived), 401/403 AuthError, other 4xx
    PermanentError.
    """

    #: The fake's operation that `call` reaches (as named in `FakeUpstream.route`).
    operation: ClassVar[str] = ""
    #: Faults injected per check: enough to outlast the adapter's in-request retries.
    attempts: ClassVar[int] = 10
    #: How long a hanging upstream waits; the adapter's timeout (see `config`) is shorter.
    hang_seconds: ClassVar[float] = 5.0

    def fake(self) -> FakeUpstream:
        """A new, not yet started, fake of the upstream."""
        raise NotImplementedError

    def config(self, url: str) -> Mapping[str, Any]:
        """Options pointing the adapter at the fake on `url`, merged over the case's
        config. Set a short request timeout here (well under `hang_seconds`)."""
        return {}

    async def call(self, run: ConformanceRun) -> None:
        """Make the adapter call `operation` once (deliver, turn, open_thread...)."""
        raise NotImplementedError


@dataclass(frozen=True)
class ConformanceCase:
    """One adapter under test: its class and a minimal valid configuration section.

    `config` is the `[adapters.<name>]` section without `type`, with secrets written
    out (the daemon resolves `${ENV}` references before `parse_config` sees them).
    """

    adapter: type[Adapter]
    config: Mapping[str, Any] = field(default_factory=dict)
    name: str = "probe"
    tenants: Sequence[str] = (TENANT,)
    inbound: InboundHook | None = None
    upstream: UpstreamHook | None = None
    #: Checks that do not apply, by name, with the reason (shown as a skip).
    exempt: Mapping[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.adapter.__module__}.{self.adapter.__qualname__}"
