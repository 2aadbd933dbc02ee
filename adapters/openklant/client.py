"""Registering callback requests and finished contacts in a Klantinteracties API.

The API has no idempotency keys, and a registration is several POSTs. Each registration
therefore carries a marker (see `wire.Marker`), created atomically with its klantcontact
through `POST /maak-klantcontact`, and every step looks before it posts:

    callback request                         finished livechat or call
    1 klantcontact + betrokkene + marker     1 klantcontact + betrokkene + marker
      (GET /klantcontacten?<marker>)           (GET /klantcontacten?<marker>)
    2 betrokkene   (?hadKlantcontact__uuid)  2 actorklantcontact for the daemon
    3 digitaal adres                           (?klantcontact__uuid&actor__uuid)
                   (?verstrektDoorBetrokkene__uuid)
    4 interne taak (?aanleidinggevendKlantcontact__uuid)
                                             3 the agent as medewerker, when an active
                                               actor with their identifier exists, and
                                               its actorklantcontact

A step whose parent was created in this same call cannot have children yet, so it posts
without looking. A call interrupted anywhere (a lost answer, a crash, a timeout) is
simply made again with the same request: what exists is found, what is missing is made,
and nothing is made twice. So the registration is `resend_safe`; an `AmbiguousSendError`
from here means "call again", never "maybe twice".

What can be raised (all from `handover.sdk.errors`): `TransientError` (retry later,
`retry_after` set on 429), `AuthError` (token refused), `PermanentError` (the API refused
the data: the message names the fields; also for an address the API would refuse or an
unmapped channel), `AmbiguousSendError` (a POST lost its answer: call again).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from adapters.openklant import wire
from adapters.openklant.transport import Transport
from handover.sdk.circuit import CircuitBreaker
from handover.sdk.errors import PermanentError

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
MAX_PAGES = 5

#: `gevraagdeHandeling` per kind of address, unless configured otherwise.
DEFAULT_ACTIONS: Mapping[wire.AddressKind, str] = {
    wire.AddressKind.PHONE: "Terugbellen",
    wire.AddressKind.EMAIL: "Contact opnemen per e-mail",
}


@dataclass(frozen=True, slots=True)
class OpenKlantSettings:
    """How to reach one Klantinteracties API and what to put in it.

    `base_url` ends in `/klantinteracties/api/v1`. `task_actor` is the uuid of the actor
    (usually an organisatorische eenheid such as the KCC) that callback tasks are assigned
    to; `daemon_actor` the uuid of the geautomatiseerde actor that stands for this daemon
    (contacts are linked to it; None: not linked). `kanalen` maps channel adapter kinds
    to `kanaal` values, `default_kanaal` is used for unmapped channels (None: refuse).
    `languages` overrides `wire.LANGUAGES`. `marker_register` names our register in the
    marker onderwerpobject. `medewerker_register`, when set, narrows the agent lookup to
    actors whose actoridentificator has that codeRegister.
    """

    base_url: str
    token: str = field(repr=False)
    task_actor: str
    daemon_actor: str | None = None
    kanalen: Mapping[str, str] = field(default_factory=lambda: dict(wire.DEFAULT_KANALEN))
    default_kanaal: str | None = None
    languages: Mapping[str, str] = field(default_factory=dict)
    default_taal: str = "nld"
    callback_actions: Mapping[wire.AddressKind, str] = field(
        default_factory=lambda: dict(DEFAULT_ACTIONS))
    callback_subject: str = "Contactverzoek"
    marker_register: str = "handover"
    medewerker_register: str | None = None
    timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("base_url must be an http(s) URL")
        if not parts.path.rstrip("/").endswith(wire.API_PATH) or parts.query or parts.fragment:
            raise ValueError(f"base_url must end in {wire.API_PATH}")
        if not self.token or any(c.isspace() for c in self.token):
            raise ValueError("token must be set, without spaces or line breaks")
        for name, value in (("task_actor", self.task_actor), ("daemon_actor", self.daemon_actor)):
            if value is not None and not _UUID.match(value):
                raise ValueError(f"{name} must be an actor uuid")
        for kind in wire.AddressKind:
            if not self.callback_actions.get(kind, "").strip():
                raise ValueError(f"callback_actions needs a text for {kind.value}")
        if not 0 < self.timeout_seconds <= 300:
            raise ValueError("timeout_seconds must be in (0, 300]")
        wire.Marker(self.marker_register, "x", "x")  # the register's characters


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    """A citizen's request to be contacted. The personal fields stay out of the repr.

    `registration_id` is stable for this request (e.g. its id in the store): it is the
    marker, so the same request registered twice is registered once. `reference` is the
    short reference the citizen was given (`wire.new_reference`). `question` becomes the
    klantcontact's `inhoud`; `note` is added to the task's `toelichting` after the
    reference (e.g. when to call back).
    """

    registration_id: str
    reference: str
    channel: str
    language: str
    placed_at: datetime
    address: wire.ContactAddress = field(repr=False)
    question: str = field(repr=False)
    name: str | None = field(default=None, repr=False)
    subject: str | None = None
    note: str | None = field(default=None, repr=False)
    confidential: bool = False


@dataclass(frozen=True, slots=True)
class FinishedContact:
    """A finished livechat or call transfer. `content` (the tenant's choice: nothing, the
    topic or the agent's summary) becomes `inhoud`; `succeeded` `indicatieContactGelukt`;
    `agent_id` is the desk's identifier for the agent, matched against medewerker actors'
    actoridentificator objectId."""

    registration_id: str
    channel: str
    language: str
    subject: str
    placed_at: datetime
    succeeded: bool | None
    content: str | None = field(default=None, repr=False)
    agent_id: str | None = field(default=None, repr=False)
    confidential: bool = False


@dataclass(frozen=True, slots=True)
class CallbackRegistration:
    klantcontact: wire.Ref
    betrokkene: wire.Ref
    digitaal_adres: wire.Ref
    internetaak: wire.Ref
    #: The interne taak's own `nummer` (Open Klant numbers it), when it gave one.
    task_number: str | None
    #: Whether an earlier, interrupted attempt had already created the klantcontact.
    resumed: bool


@dataclass(frozen=True, slots=True)
class ContactRegistration:
    klantcontact: wire.Ref
    daemon_link: wire.Ref | None
    agent_link: wire.Ref | None
    resumed: bool


class OpenKlantClient:
    """Registers in one Klantinteracties API (one tenant's Open Klant)."""

    def __init__(
        self,
        settings: OpenKlantSettings,
        *,
        session: Callable[[], aiohttp.ClientSession],
        log: Any,
        adapter: str = "openklant",
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.settings = settings
        self.log = log
        self.adapter = adapter
        self.transport = Transport(
            adapter=adapter, session=session, base_url=settings.base_url,
            token=settings.token, timeout_seconds=settings.timeout_seconds, log=log,
            breaker=breaker,
        )

    # --- the two registrations -------------------------------------------------------------

    async def register_callback_request(self, request: CallbackRequest) -> CallbackRegistration:
        """Klantcontact, betrokkene (with the contact name), digitaal adres and an interne
        taak for `task_actor`; safe to call again after any interruption."""
        s = self.settings
        try:
            action = s.callback_actions[request.address.kind]
            marker = wire.Marker(s.marker_register, "contactverzoek", request.registration_id)
            klantcontact = self._klantcontact(
                request.channel, request.language, request.subject or s.callback_subject,
                request.placed_at, request.confidential, request.question, None)
            betrokkene = wire.betrokkene_body(None, request.name)
            request.address.normalised()  # refused now rather than after two POSTs
            wire.check_reference(request.reference)
        except wire.WireError as exc:
            raise PermanentError(f"callback request: {exc}") from None

        kc, made = await self._klantcontact_with_marker(klantcontact, betrokkene, marker)
        created = made is not None
        party = made.betrokkene if made else None
        if party is None:
            party = await self._ensure(
                "betrokkene", "/betrokkenen", wire.betrokkenen_query(kc.uuid),
                wire.betrokkene_body(kc.uuid, request.name), look=True,
                match=lambda item: item.get("rol") == wire.ROLE_CUSTOMER,
            )
            created = False  # the betrokkene may predate this call: look for its address
        address = await self._ensure(
            "digitaal_adres", "/digitaleadressen", wire.digitaleadressen_query(party.uuid),
            wire.digitaal_adres_body(party.uuid, request.address), look=not created,
            match=lambda item: item.get("soortDigitaalAdres") == request.address.kind.value,
        )
        task_body = wire.internetaak_body(
            klantcontact=kc.uuid, actors=[s.task_actor], gevraagde_handeling=action,
            reference=request.reference, toelichting=request.note,
        )
        task, task_data = await self._ensure_with_data(
            "internetaak", "/internetaken", wire.internetaken_query(kc.uuid), task_body,
            look=made is None,
        )
        result = CallbackRegistration(kc, party, address, task, wire.task_number(task_data),
                                      resumed=made is None)
        self.log.info("openklant.callback_registered", adapter=self.adapter,
                      klantcontact=kc.uuid, internetaak=task.uuid, resumed=result.resumed)
        return result

    async def register_contact(self, contact: FinishedContact) -> ContactRegistration:
        """A klantcontact for a finished livechat or call, linked to the daemon's actor
        and, when known, the agent's medewerker actor; safe to call again."""
        try:
            marker = wire.Marker(self.settings.marker_register, "klantcontact",
                                 contact.registration_id)
            body = self._klantcontact(
                contact.channel, contact.language, contact.subject, contact.placed_at,
                contact.confidential, contact.content, contact.succeeded)
        except wire.WireError as exc:
            raise PermanentError(f"contact: {exc}") from None
        kc, made = await self._klantcontact_with_marker(body, wire.betrokkene_body(None), marker)
        look = made is None
        daemon_link = None
        if self.settings.daemon_actor is not None:
            daemon_link = await self._link_actor(kc.uuid, self.settings.daemon_actor, look)
        agent_link = None
        if contact.agent_id:
            agent = await self._find_medewerker(contact.agent_id)
            if agent is None:
                self.log.info("openklant.agent_not_found", adapter=self.adapter,
                              klantcontact=kc.uuid)
            else:
                agent_link = await self._link_actor(kc.uuid, agent, look)
        result = ContactRegistration(kc, daemon_link, agent_link, resumed=look)
        self.log.info("openklant.contact_registered", adapter=self.adapter,
                      klantcontact=kc.uuid, agent_linked=agent_link is not None,
                      resumed=look)
        return result

    async def check(self) -> None:
        """Reads the task actor: proves the URL, the token and the actor (for start-up and
        readiness). Raises like the registrations do."""
        await self.transport.get(
            "get_actor", self.transport.url(f"/actoren/{self.settings.task_actor}"), None)

    # --- steps -----------------------------------------------------------------------------

    def _klantcontact(
        self, channel: str, language: str, subject: str, placed_at: datetime,
        confidential: bool, content: str | None, succeeded: bool | None,
    ) -> dict[str, Any]:
        s = self.settings
        return wire.klantcontact_body(
            kanaal=wire.kanaal(channel, s.kanalen, s.default_kanaal),
            onderwerp=subject,
            taal=wire.taal(language, s.languages, s.default_taal),
            vertrouwelijk=confidential,
            plaatsgevonden_op=placed_at,
            inhoud=content,
            contact_gelukt=succeeded,
        )

    async def _klantcontact_with_marker(
        self, klantcontact: dict[str, Any], betrokkene: dict[str, Any], marker: wire.Marker,
    ) -> tuple[wire.Ref, wire.MaakKlantcontactAnswer | None]:
        """The klantcontact carrying `marker`: found (answer None) or made with its
        betrokkene and marker in one request."""
        found = await self._find("klantcontact", "/klantcontacten", marker.query(), None)
        if found is not None:
            return found, None
        data = await self.transport.post(
            "create_klantcontact", "/maak-klantcontact",
            wire.maak_klantcontact_body(klantcontact, betrokkene, marker))
        made = self._parse(wire.parse_maak_klantcontact, data)
        return made.klantcontact, made

    async def _link_actor(self, klantcontact: str, actor: str, look: bool) -> wire.Ref:
        return await self._ensure(
            "actorklantcontact", "/actorklantcontacten",
            wire.actorklantcontacten_query(klantcontact, actor),
            wire.actorklantcontact_body(actor, klantcontact), look=look,
        )

    async def _find_medewerker(self, agent_id: str) -> str | None:
        if len(agent_id) > wire.IDENTIFICATOR_MAX:
            return None
        query = wire.medewerker_query(agent_id, self.settings.medewerker_register)
        found = await self._find("medewerker", "/actoren", query, None)
        return found.uuid if found else None

    async def _ensure(
        self, what: str, path: str, query: Mapping[str, str], body: Mapping[str, Any],
        *, look: bool, match: Callable[[Mapping[str, Any]], bool] | None = None,
    ) -> wire.Ref:
        ref, _ = await self._ensure_with_data(what, path, query, body, look=look, match=match)
        return ref

    async def _ensure_with_data(
        self, what: str, path: str, query: Mapping[str, str], body: Mapping[str, Any],
        *, look: bool, match: Callable[[Mapping[str, Any]], bool] | None = None,
    ) -> tuple[wire.Ref, Any]:
        """The object `query` finds (when `look`), else the one `body` creates."""
        if look:
            found = await self._find_item(what, path, query, match)
            if found is not None:
                self.log.info("openklant.step_resumed", adapter=self.adapter, step=what)
                return self._parse(lambda d: wire.parse_ref(d, what), found), found
        data = await self.transport.post(f"create_{what}", path, body)
        return self._parse(lambda d: wire.parse_ref(d, what), data), data

    async def _find(
        self, what: str, path: str, query: Mapping[str, str],
        match: Callable[[Mapping[str, Any]], bool] | None,
    ) -> wire.Ref | None:
        found = await self._find_item(what, path, query, match)
        return None if found is None else self._parse(lambda d: wire.parse_ref(d, what), found)

    async def _find_item(
        self, what: str, path: str, query: Mapping[str, str],
        match: Callable[[Mapping[str, Any]], bool] | None,
    ) -> Mapping[str, Any] | None:
        """The first (oldest listed) item of a filtered list that `match`es; follows
        `next` links only within this API, for at most MAX_PAGES pages."""
        url: str | None = self.transport.url(path)
        params: Mapping[str, str] | None = query
        hits: list[Mapping[str, Any]] = []
        for _ in range(MAX_PAGES):
            if url is None:
                break
            data = await self.transport.get(f"find_{what}", url, params)
            page = self._parse(lambda d: wire.parse_page(d, f"find_{what}"), data)
            hits.extend(item for item in page.results if match is None or match(item))
            url, params = (page.next, None) if page.next and self.transport.owns(page.next) \
                else (None, None)
        if len(hits) > 1:
            # Made outside this daemon, or by a version without markers: keep the first.
            self.log.warning("openklant.duplicates_found", adapter=self.adapter, step=what,
                             count=len(hits))
        return hits[0] if hits else None

    def _parse(self, parse: Callable[[Any], Any], data: Any) -> Any:
        try:
            return parse(data)
        except wire.WireError as exc:
            self.log.warning("openklant.invalid_answer", adapter=self.adapter, detail=str(exc))
            raise PermanentError(str(exc)) from None


__all__ = [
    "CallbackRegistration",
    "CallbackRequest",
    "ContactRegistration",
    "FinishedContact",
    "OpenKlantClient",
    "OpenKlantSettings",
]
