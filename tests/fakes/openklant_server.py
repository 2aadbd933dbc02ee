"""A fake Klantinteracties API (Open Klant 2) on 127.0.0.1 port 0, from the spec's facts.

Written from `maykinmedia/open-klant` `src/openklant/components/klantinteracties/
openapi.yaml` (and Open Klant's models and validators where the spec is silent), not from
the client: the field names, lengths, enums and filters are spelled out (in
`openklant_schema.py`) on purpose, so a typo on either side makes the tests fail.

- Every request needs `Authorization: Token <token>` (401 otherwise).
- Writes are checked for required fields, types, maximum lengths, enums, the phone
  pattern and e-mail shape of a digitaal adres, `kanaal` against `allowed_kanalen` when
  set (Open Klant's optional Referentielijsten check), and references (a betrokkene's
  klantcontact, a task's actors... must exist). A refusal is a 400 in vng-api-common's
  format: `{type, code, title, status, detail, instance, invalidParams: [{name, code,
  reason}]}`.
- Stricter than Open Klant on purpose: unknown body fields and unknown query parameters
  are refused with 400, so a misspelt field or filter cannot pass unnoticed (Django REST
  framework would ignore the one and django-filter the other, returning everything).
- Objects live in memory with uuid and url; lists paginate (`page`, `pageSize`,
  `{count, next, previous, results}`) and support the filters the client uses.
- `POST /maak-klantcontact` creates klantcontact, betrokkene and onderwerpobject at once.
- An interne taak without `nummer` is numbered "highest + 1", ten digits, as Open Klant does.
- Faults per operation ("POST maak-klantcontact", "GET betrokkenen", ...):
  `fail_next(op, Fault.status(503))`, `Fault.status(429, retry_after=7)`,
  `Fault.hang(seconds)` (answers nothing until the client gives up), `Fault.lost()`
  (processes the request, then drops the connection: the answer is lost).
- `on_processed(operation)`, when set, is called once a request has been processed and
  before its answer leaves: an end-to-end test kills the daemon there, so it dies
  without knowing what Open Klant made.
"""

from __future__ import annotations

import asyncio
import uuid as uuidlib
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.openklant_schema import (
    BETROKKENE_MAAK,
    EMAIL,
    FILTERS,
    KLANTCONTACT,
    NOT_BLANK,
    ONDERWERPOBJECT_MAAK,
    PHONE,
    SCHEMAS,
    F,
)

BASE = "/klantinteracties/api/v1"
@dataclass(frozen=True)
class Fault:
    kind: str
    status: int = 503
    retry_after: float | None = None
    seconds: float = 0.0

    @classmethod
    def status_(cls, status: int, retry_after: float | None = None) -> Fault:
        return cls("status", status=status, retry_after=retry_after)

    @classmethod
    def hang(cls, seconds: float = 30.0) -> Fault:  # no answer; the request is not processed
        return cls("hang", seconds=seconds)

    @classmethod
    def lost(cls) -> Fault:  # processed, then the connection is dropped
        return cls("lost")


class Invalid(Exception):
    def __init__(self, params: list[dict[str, str]]) -> None:
        super().__init__(params)
        self.params = params


def _problem(name: str, code: str, reason: str) -> Invalid:
    return Invalid([{"name": name, "code": code, "reason": reason}])


class FakeOpenKlant:
    def __init__(self, token: str = "ok-token-1") -> None:
        self.token = token
        self.objects: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        #: (method, resource, query, body) of every request that reached the fake.
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []
        #: When set, `kanaal` must be one of these (Open Klant's Referentielijsten check).
        self.allowed_kanalen: set[str] | None = None
        #: The page size when the request gives no `pageSize` (Open Klant: 100).
        self.page_size = 100
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        #: Called with "<METHOD> <resource>" after a request was processed, before its
        #: answer is given.
        self.on_processed: Callable[[str], None] | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.kcc = self.add_actor("organisatorische_eenheid", "KCC")
        self.daemon = self.add_actor("geautomatiseerde_actor", "Handover daemon")
        self.agent = self.add_actor("medewerker", "Sanne", object_id="agent-7",
                                    register="obi4wan")

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.add_routes([
            web.post(BASE + "/maak-klantcontact", self._maak),
            web.get(BASE + "/{resource}", self._list),
            web.post(BASE + "/{resource}", self._create),
            web.get(BASE + "/{resource}/{uuid}", self._retrieve),
        ])
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}{BASE}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- set-up and reading ---------------------------------------------------------------

    def add_actor(self, soort: str, naam: str, *, object_id: str | None = None,
                  register: str | None = None, active: bool = True) -> str:
        ident = {"objectId": object_id or "", "codeObjecttype": "", "codeRegister": register or "",
                 "codeSoortObjectId": ""} if object_id else None
        return self._store("actoren", {"naam": naam, "soortActor": soort,
                                       "indicatieActief": active, "actoridentificator": ident})

    def all(self, resource: str) -> list[dict[str, Any]]:
        return [self._render(resource, o) for o in self.objects[resource].values()]

    def fail_next(self, operation: str, fault: Fault, times: int = 1) -> None:
        """`operation` is "<METHOD> <resource>", e.g. "POST internetaken"."""
        self._faults[operation].extend([fault] * times)

    # --- handlers -------------------------------------------------------------------------

    async def _before(self, request: web.Request, resource: str) -> tuple[Any, Fault | None]:
        """Records the request, applies a fault or the auth check; (body, fault) or raises
        the response to give instead."""
        body = await request.json() if request.can_read_body else None
        self.requests.append((request.method, resource, dict(request.query), body))
        queue = self._faults[f"{request.method} {resource}"]
        fault = queue.popleft() if queue else None
        if fault is not None and fault.kind == "status":
            headers = {"Retry-After": str(int(fault.retry_after))} if fault.retry_after else {}
            raise _Answer(web.json_response(_error(fault.status, "fault", "Injected fault."),
                                            status=fault.status, headers=headers))
        if fault is not None and fault.kind == "hang":
            await asyncio.sleep(fault.seconds)
            raise _Answer(web.json_response(_error(504, "timeout", "Too late."), status=504))
        if request.headers.get("Authorization") != f"Token {self.token}":
            raise _Answer(web.json_response(
                _error(401, "not_authenticated", "Authenticatiegegevens zijn niet opgegeven."),
                status=401))
        return body, fault

    async def _answer(self, request: web.Request, resource: str,
                      work: Callable[[Any], tuple[int, Any]]) -> web.StreamResponse:
        try:
            body, fault = await self._before(request, resource)
            status, data = work(body)
        except _Answer as answer:
            return answer.response
        except Invalid as exc:
            return web.json_response(_invalid(exc.params), status=400)
        if self.on_processed is not None:
            self.on_processed(f"{request.method} {resource}")
        if fault is not None and fault.kind == "lost":
            assert request.transport is not None
            request.transport.abort()  # processed, but the answer never arrives
            await asyncio.sleep(0.05)
        return web.json_response(data, status=status)

    async def _maak(self, request: web.Request) -> web.StreamResponse:
        return await self._answer(request, "maak-klantcontact", self._maak_work)

    def _maak_work(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict):
            raise _problem("nonFieldErrors", "invalid", "Expected an object.")
        unknown = sorted(set(body) - {"klantcontact", "betrokkene", "onderwerpobject"})
        if unknown:
            raise _problem(unknown[0], "unknown", "Unknown field.")
        if body.get("klantcontact") is None:
            raise _problem("klantcontact", "required", "Dit veld is vereist.")
        parts = [("klantcontact", "klantcontacten", KLANTCONTACT),
                 ("betrokkene", "betrokkenen", BETROKKENE_MAAK),
                 ("onderwerpobject", "onderwerpobjecten", ONDERWERPOBJECT_MAAK)]
        problems: list[dict[str, str]] = []
        for key, resource, schema in parts:  # all checked before anything is stored
            if body.get(key) is not None:
                problems += self._check(resource, schema, body[key], key + ".")
        if problems:
            raise Invalid(problems)
        kc = self._store("klantcontacten", body["klantcontact"])
        answer: dict[str, Any] = {"klantcontact": self._render(
            "klantcontacten", self.objects["klantcontacten"][kc])}
        for key, resource, _ in parts[1:]:
            if body.get(key) is not None:
                link = "hadKlantcontact" if key == "betrokkene" else "klantcontact"
                made = self._store(resource, {**body[key], link: {"uuid": kc}})
                answer[key] = self._render(resource, self.objects[resource][made])
        return 201, answer

    async def _create(self, request: web.Request) -> web.StreamResponse:
        resource = request.match_info["resource"]
        if resource not in SCHEMAS:
            return web.json_response(_error(404, "not_found", "Niet gevonden."), status=404)

        def work(body: Any) -> tuple[int, Any]:
            problems = self._check(resource, SCHEMAS[resource], body, "")
            if problems:
                raise Invalid(problems)
            made = self._store(resource, body)
            return 201, self._render(resource, self.objects[resource][made])

        return await self._answer(request, resource, work)

    async def _list(self, request: web.Request) -> web.StreamResponse:
        resource = request.match_info["resource"]
        if resource not in FILTERS:
            return web.json_response(_error(404, "not_found", "Niet gevonden."), status=404)

        def work(_: Any) -> tuple[int, Any]:
            query = dict(request.query)
            try:
                page = int(query.pop("page", "1"))
                size = int(query.pop("pageSize", str(self.page_size)))
            except ValueError:
                raise _problem("page", "invalid", "Een geldig getal is vereist.") from None
            unknown = sorted(set(query) - set(FILTERS[resource]))
            if unknown:
                raise _problem(unknown[0], "unknown-parameters", "Onbekende query parameter.")
            items = [o for o in self.objects[resource].values()
                     if all(FILTERS[resource][k](self.objects, o, v) for k, v in query.items())]
            chunk = items[(page - 1) * size: page * size]
            more = page * size < len(items)
            nxt = str(request.url.update_query({"page": str(page + 1)})) if more else None
            prev = str(request.url.update_query({"page": str(page - 1)})) if page > 1 else None
            return 200, {"count": len(items), "next": nxt, "previous": prev,
                         "results": [self._render(resource, o) for o in chunk]}

        return await self._answer(request, resource, work)

    async def _retrieve(self, request: web.Request) -> web.StreamResponse:
        resource = request.match_info["resource"]

        def work(_: Any) -> tuple[int, Any]:
            obj = self.objects.get(resource, {}).get(request.match_info["uuid"])
            if obj is None:
                raise _Answer(web.json_response(_error(404, "not_found", "Niet gevonden."),
                                                status=404))
            return 200, self._render(resource, obj)

        return await self._answer(request, resource, work)

    # --- validation -----------------------------------------------------------------------

    def _check(self, resource: str, schema: dict[str, F], body: Any,
               prefix: str) -> list[dict[str, str]]:
        if not isinstance(body, dict):
            return [{"name": prefix.rstrip(".") or "nonFieldErrors", "code": "invalid",
                     "reason": "Ongeldige data. Verwachtte een dictionary."}]
        problems = [{"name": prefix + k, "code": "unknown", "reason": "Onbekend veld."}
                    for k in body if k not in schema and k not in ("uuid", "url")]
        for name, spec in schema.items():
            problems += self._check_field(prefix + name, name, spec, body.get(name), name in body)
        if problems:
            return problems
        return self._cross_checks(resource, body, prefix)

    def _check_field(self, path: str, name: str, spec: F, value: Any,
                     present: bool) -> list[dict[str, str]]:
        def bad(code: str, reason: str) -> list[dict[str, str]]:
            return [{"name": path, "code": code, "reason": reason}]

        if not present:
            return bad("required", "Dit veld is vereist.") if spec.required else []
        if value is None:
            return [] if spec.nullable else bad("null", "Dit veld mag niet leeg zijn.")
        if spec.kind == "str":
            if not isinstance(value, str):
                return bad("invalid", "Geen geldige string.")
            if not value.strip() and (spec.required or name in NOT_BLANK):
                return bad("blank", "Dit veld mag niet leeg zijn.")
            if spec.max is not None and len(value) > spec.max:
                return bad("max_length", f"Zorg ervoor dat dit veld niet meer dan {spec.max} "
                                         "karakters bevat.")
            if spec.enum is not None and value not in spec.enum:
                return bad("invalid_choice", "Dit is geen geldige keuze.")
            if spec.pattern is not None and value and not spec.pattern.match(value):
                return bad("invalid", "Ongeldige waarde.")
        elif spec.kind == "bool" and not isinstance(value, bool):
            return bad("invalid", "Moet een geldige boolean zijn.")
        elif spec.kind == "datetime":
            try:
                moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                return bad("invalid", "Datetime heeft een ongeldig formaat.")
            if moment.tzinfo is None:
                return bad("invalid", "Datetime heeft geen tijdzone.")
        elif spec.kind == "fk":
            return self._check_ref(path, spec, value)
        elif spec.kind == "fklist":
            if not isinstance(value, list):
                return bad("not_a_list", "Verwachtte een lijst.")
            return [p for i, item in enumerate(value)
                    for p in self._check_ref(f"{path}.{i}", spec, item)]
        elif spec.kind == "object":
            assert spec.fields is not None
            return self._check("", spec.fields, value, path + ".")
        return []

    def _check_ref(self, path: str, spec: F, value: Any) -> list[dict[str, str]]:
        ref = value.get("uuid") if isinstance(value, dict) else None
        if not isinstance(ref, str):
            return [{"name": f"{path}.uuid", "code": "required", "reason": "Dit veld is vereist."}]
        assert spec.target is not None
        if ref not in self.objects.get(spec.target, {}):
            return [{"name": f"{path}.uuid", "code": "does_not_exist",
                     "reason": "Object bestaat niet."}]
        return []

    def _cross_checks(self, resource: str, body: dict[str, Any],
                      prefix: str) -> list[dict[str, str]]:
        if resource == "klantcontacten" and self.allowed_kanalen is not None \
                and body["kanaal"] not in self.allowed_kanalen:
            return [{"name": prefix + "kanaal", "code": "invalid",
                     "reason": f"'{body['kanaal']}' is not a valid kanaal. Allowed values: "
                               f"{', '.join(sorted(self.allowed_kanalen))}"}]
        if resource == "digitaleadressen":
            kind, adres = body["soortDigitaalAdres"], body["adres"]
            if (kind == "telefoonnummer" and not PHONE.match(adres)) or (
                    kind == "email" and not EMAIL.match(adres)):
                return [{"name": prefix + "adres", "code": "invalid",
                         "reason": "Voer een geldig adres in."}]
        if resource in ("klantcontacten", "internetaken") and body.get("nummer") and any(
                o.get("nummer") == body["nummer"] for o in self.objects[resource].values()):
            return [{"name": prefix + "nummer", "code": "unique",
                         "reason": "Er bestaat al een object met dit nummer."}]
        return []

    # --- storage --------------------------------------------------------------------------

    def _store(self, resource: str, body: dict[str, Any]) -> str:
        key = str(uuidlib.uuid4())
        obj = {k: v for k, v in body.items() if k not in ("uuid", "url")}
        obj["uuid"] = key
        if resource == "internetaken":
            if not obj.get("nummer"):
                highest = max((int(o["nummer"]) for o in self.objects[resource].values()),
                              default=0)
                obj["nummer"] = str(highest + 1).rjust(10, "0")
            obj["toegewezenOp"] = datetime.now(UTC).isoformat()
            obj.setdefault("toegewezenAanActoren", [])
        self.objects[resource][key] = obj
        return key

    def _url(self, resource: str, key: str) -> str:
        return f"{self.url}/{resource}/{key}"

    def _ref(self, resource: str, key: str) -> dict[str, str]:
        return {"uuid": key, "url": self._url(resource, key)}

    def _render(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        out = {**obj, "url": self._url(resource, obj["uuid"])}
        targets = {"hadKlantcontact": "klantcontacten", "klantcontact": "klantcontacten",
                   "aanleidinggevendKlantcontact": "klantcontacten", "actor": "actoren",
                   "verstrektDoorBetrokkene": "betrokkenen"}
        for name, target in targets.items():
            if isinstance(out.get(name), dict):
                out[name] = self._ref(target, out[name]["uuid"])
        if resource == "internetaken":
            out["toegewezenAanActoren"] = [self._ref("actoren", a["uuid"])
                                           for a in out["toegewezenAanActoren"]]
        if resource == "klantcontacten":
            def linked(res: str, field: str) -> list[dict[str, str]]:
                return [self._ref(res, o["uuid"]) for o in self.objects[res].values()
                        if (o.get(field) or {}).get("uuid") == obj["uuid"]]
            out["hadBetrokkenen"] = linked("betrokkenen", "hadKlantcontact")
            out["gingOverOnderwerpobjecten"] = linked("onderwerpobjecten", "klantcontact")
            out["leiddeTotInterneTaken"] = linked("internetaken", "aanleidinggevendKlantcontact")
            out["omvatteBijlagen"] = []
            out["hadBetrokkenActoren"] = [
                self._render("actoren", self.objects["actoren"][link["actor"]["uuid"]])
                for link in self.objects["actorklantcontacten"].values()
                if link["klantcontact"]["uuid"] == obj["uuid"]]
        if resource == "betrokkenen":
            out["digitaleAdressen"] = [
                self._ref("digitaleadressen", o["uuid"])
                for o in self.objects["digitaleadressen"].values()
                if (o.get("verstrektDoorBetrokkene") or {}).get("uuid") == obj["uuid"]]
            naam = obj.get("contactnaam") or {}
            out["volledigeNaam"] = " ".join(
                naam.get(k, "") for k in ("voornaam", "voorvoegselAchternaam", "achternaam")
                if naam.get(k))
        return out


class _Answer(Exception):
    """A response to give instead of the normal one (a fault, a refusal)."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def _error(status: int, code: str, title: str) -> dict[str, Any]:
    return {"type": f"https://example.invalid/ref/fouten/{code}/", "code": code, "title": title,
            "status": status, "detail": title, "instance": f"urn:uuid:{uuidlib.uuid4()}"}


def _invalid(params: list[dict[str, str]]) -> dict[str, Any]:
    return {**_error(400, "invalid", "Invalid input."), "detail": "", "invalidParams": params}
