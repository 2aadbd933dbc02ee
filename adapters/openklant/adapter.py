"""The openklant registration target: callback requests and finished contacts registered
in a municipality's Klantinteracties API (Open Klant 2) through the outbox.

The core hands each registration to `register_callback` / `register_contact` (at least
once, retried with backoff); `client.OpenKlantClient` does the API work and finds what an
interrupted earlier attempt made by its marker, so a registration arriving twice is
registered once (`resend_safe`). One client per Open Klant (per tenant table, or the
instance's for tenants without one), each behind its own circuit breaker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from adapters.openklant import wire
from adapters.openklant.client import CallbackRequest as OkCallbackRequest
from adapters.openklant.client import FinishedContact, OpenKlantClient
from adapters.openklant.options import (
    OpenKlantOptions,
    TenantRegistry,
    check_tenants,
    parse_options,
)
from adapters.openklant.transport import counts_as_failure
from handover.sdk.circuit import CircuitBreaker, CircuitState
from handover.sdk.contracts import AdapterContext, Health
from handover.sdk.errors import AuthError, PermanentError
from handover.sdk.registration import (
    AddressKind,
    CallbackRequest,
    ContactRecord,
    RegistrationReceipt,
    RegistryAdapter,
)

__all__ = ["OpenKlantRegistry", "to_callback_request", "to_finished_contact"]

_ADDRESS_KINDS = {AddressKind.PHONE: wire.AddressKind.PHONE,
                  AddressKind.EMAIL: wire.AddressKind.EMAIL}


def to_callback_request(request: CallbackRequest) -> OkCallbackRequest:
    """The client's request for a core callback request: `kanaal` from the channel's
    type, `onderwerp` from the topic's words (the configured subject when none), and the
    expected callback time in the task's `toelichting` after the reference."""
    return OkCallbackRequest(
        registration_id=request.request_id,
        reference=request.reference,
        channel=request.channel_type,
        language=request.language,
        placed_at=request.placed_at,
        address=wire.ContactAddress(_ADDRESS_KINDS[request.address_kind], request.address),
        question=request.question,
        name=request.name,
        subject=request.topic_label or request.topic,
        note=_callback_note(request),
    )


def _callback_note(request: CallbackRequest) -> str | None:
    """What the KCC reads after the reference in the task's `toelichting`: when the
    citizen expects the call, labelled (the text the citizen was told is in their own
    language and only a fragment such as "zo snel mogelijk")."""
    if request.callback_after is not None:
        return f"Terugbellen vanaf {request.callback_after:%d-%m-%Y %H:%M}."
    if request.callback_text:
        return f"Toegezegd aan de inwoner: {request.callback_text}."
    return None


def to_finished_contact(record: ContactRecord, subject: str) -> FinishedContact:
    """The client's contact for a core record; `subject` when the record has no topic.
    `indicatieContactGelukt` is `succeeded` (unknown stays unknown)."""
    return FinishedContact(
        registration_id=record.record_id,
        channel=record.channel_type,
        language=record.language,
        subject=record.topic_label or record.topic or subject,
        placed_at=record.started_at,
        succeeded=record.succeeded,
        content=record.content,
        agent_id=record.agent_id,
    )


class OpenKlantRegistry(RegistryAdapter):
    """Callback requests and finished contacts registered in Open Klant.

    Each callback request becomes a klantcontact with betrokkene, digitaal adres and an
    interne taak for the KCC; each finished contact a klantcontact linked to the daemon's
    and the agent's actors.

    Both flags are on for the type; a tenant that does not want one of them sets
    `register_callbacks = false` or `register_contacts = false`, and the registration is
    then acknowledged without calling Open Klant (the contract's flags are per type, the
    choice is per tenant).
    """

    resend_safe = True
    registers_callbacks = True
    registers_contacts = True

    def __init__(self, name: str, config: Any, ctx: AdapterContext) -> None:
        super().__init__(name, config, ctx)
        if not isinstance(config, OpenKlantOptions):
            raise TypeError("OpenKlantRegistry needs the options from parse_config")
        self.options: OpenKlantOptions = config
        # One client (and circuit) per Open Klant: the instance's, shared by the tenants
        # without a table of their own, and one per tenant table.
        self._clients: dict[int, OpenKlantClient] = {}
        if config.defaults is not None:
            self._clients[id(config.defaults)] = self._client(config.defaults, name)
        for tenant, registry in config.tenants.items():
            # Its own circuit, named apart (tenant ids are bounded and not personal).
            self._clients[id(registry)] = self._client(registry, f"{name}.{tenant}")
        self._healthy = False
        self._task: asyncio.Task[None] | None = None

    def _client(self, registry: TenantRegistry, circuit: str) -> OpenKlantClient:
        breaker = CircuitBreaker(
            circuit, self.ctx.clock,
            failure_threshold=self.options.circuit_failure_threshold,
            reset_seconds=self.options.circuit_reset_seconds,
            counts_as_failure=counts_as_failure, on_change=self._circuit_changed,
        )
        return OpenKlantClient(registry.settings, session=lambda: self.ctx.http,
                               log=self.ctx.log, adapter=self.name, breaker=breaker)

    @classmethod
    def parse_config(cls, section: Mapping[str, Any], path: str) -> OpenKlantOptions:
        return parse_options(section, path)

    @classmethod
    def check_tenants(cls, options: Any, tenants: Sequence[str], path: str) -> None:
        if isinstance(options, OpenKlantOptions):
            check_tenants(options, tenants, path)

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Probes every configured Open Klant in the background (reading the task actor
        proves URL, token and actor), so a slow registry does not hold up the daemon's
        start; unhealthy, it probes again every `circuit_reset_seconds`."""
        self.ctx.set_health(Health.STARTING)
        self._task = self.ctx.spawn(self._watch(), "probe")
        # Let the probe begin: a task cancelled before its first step would leave its
        # coroutine never awaited (a RuntimeWarning) when the daemon stops at once.
        await asyncio.sleep(0)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def check_health(self) -> None:
        """Reads the task actor of every configured Open Klant; raises like a
        registration (AuthError for a refused token, TransientError when down)."""
        for client in self._clients.values():
            await client.check()

    async def _watch(self) -> None:
        while True:
            if not self._healthy:
                await self._probe()
            await self.ctx.clock.sleep(self.options.circuit_reset_seconds)

    async def _probe(self) -> None:
        try:
            await self.check_health()
        except AuthError:
            self._set_health(Health.AUTH_FAILED, "Open Klant refused the token")
        except PermanentError:
            self._set_health(Health.DEGRADED, "Open Klant does not know the task actor")
        except Exception as exc:
            self._set_health(Health.DEGRADED, f"Open Klant probe failed: {type(exc).__name__}")
        else:
                self._set_health(Health.CONNECTED)

    def _set_health(self, health: Health, detail: str = "") -> None:
        self._healthy = health is Health.CONNECTED
        self.ctx.set_health(health, detail)

    def _circuit_changed(self, state: CircuitState) -> None:
        if state is CircuitState.OPEN:
            self.ctx.log.warning("openklant.circuit_opened", adapter=self.name)
            self._set_health(Health.DEGRADED, "Open Klant is not answering (circuit open)")

    # --- registrations --------------------------------------------------------------------

    def _registry(self, tenant: str) -> TenantRegistry:
        registry = self.options.for_tenant(tenant)
        if registry is None:
            # check_tenants refuses such a configuration; kept for a daemon built by hand.
            raise PermanentError(f"no Open Klant settings for tenant {tenant!r}")
        return registry

    async def register_callback(self, request: CallbackRequest) -> RegistrationReceipt:
        registry = self._registry(request.tenant)
        if not registry.register_callbacks:
            return RegistrationReceipt()
        client = self._clients[id(registry)]
        try:
            made = await client.register_callback_request(to_callback_request(request))
        except AuthError:
            self._set_health(Health.AUTH_FAILED, "Open Klant refused the token")
            raise
        self._succeeded()
        return RegistrationReceipt(external_id=made.klantcontact.uuid)

    async def register_contact(self, record: ContactRecord) -> RegistrationReceipt:
        registry = self._registry(record.tenant)
        if not registry.register_contacts:
            return RegistrationReceipt()
        client = self._clients[id(registry)]
        try:
            made = await client.register_contact(
                to_finished_contact(record, registry.contact_subject))
        except AuthError:
            self._set_health(Health.AUTH_FAILED, "Open Klant refused the token")
            raise
        self._succeeded()
        return RegistrationReceipt(external_id=made.klantcontact.uuid)

    def _succeeded(self) -> None:
        if not self._healthy:
                self._set_health(Health.CONNECTED)
