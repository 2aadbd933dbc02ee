"""The Klantinteracties API's facts for the fake Open Klant: fields, lengths, enums, filters.

From `maykinmedia/open-klant` `src/openklant/components/klantinteracties/openapi.yaml`
(components.schemas, the list endpoints' query parameters) and, where the spec is silent,
Open Klant's models (`nummer` is digits only; `kanaal`, `onderwerp`, `taal` may not be
blank). Spelled out here rather than imported from the client, on purpose.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Objects = Mapping[str, Mapping[str, dict[str, Any]]]
Filter = Callable[[Objects, dict[str, Any], str], bool]

PHONE = re.compile(r"^(0[8-9]00[0-9]{4,8}|0[1-9][0-9]{8}|\+31[0-9]{10}|\+[0-9]{9,20}|00[0-9]{11}"
                   r"|1400|140[0-9]{2,3})$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
DIGITS = re.compile(r"^[0-9]+$")
REFERENTIE = re.compile(r"^[-a-zA-Z0-9_]+$")


@dataclass(frozen=True)
class F:
    """One field: kind str|bool|datetime|fk|fklist|object, with its constraints."""

    kind: str
    required: bool = False
    max: int | None = None
    enum: tuple[str, ...] | None = None
    nullable: bool = False
    target: str | None = None
    fields: dict[str, F] | None = None
    pattern: re.Pattern[str] | None = None


def s(max_: int, required: bool = False, pattern: re.Pattern[str] | None = None) -> F:
    return F("str", required=required, max=max_, pattern=pattern)


NAAM = {"voorletters": s(10), "voornaam": s(200), "voorvoegselAchternaam": s(10),
        "achternaam": s(200)}
IDENT = {k: s(200) for k in ("objectId", "codeObjecttype", "codeRegister", "codeSoortObjectId")}
KLANTCONTACT = {
    "nummer": s(10, pattern=DIGITS), "kanaal": s(50, True), "onderwerp": s(200, True),
    "inhoud": s(1000), "indicatieContactGelukt": F("bool", nullable=True),
    "taal": s(3, True), "vertrouwelijk": F("bool", required=True),
    "plaatsgevondenOp": F("datetime"),
}
BETROKKENE_MAAK = {
    "wasPartij": F("fk", target="partijen", nullable=True),
    "contactnaam": F("object", fields=NAAM, nullable=True),
    "rol": F("str", required=True, enum=("vertegenwoordiger", "klant")),
    "organisatienaam": s(200), "initiator": F("bool", required=True),
}
BETROKKENE = {**BETROKKENE_MAAK, "hadKlantcontact": F("fk", True, target="klantcontacten")}
ONDERWERPOBJECT_MAAK = {
    "wasKlantcontact": F("fk", target="klantcontacten", nullable=True),
    "onderwerpobjectidentificator": F("object", fields=IDENT, nullable=True),
}
ONDERWERPOBJECT = {**ONDERWERPOBJECT_MAAK,
                   "klantcontact": F("fk", target="klantcontacten", nullable=True)}
SCHEMAS: dict[str, dict[str, F]] = {
    "klantcontacten": KLANTCONTACT,
    "betrokkenen": BETROKKENE,
    "onderwerpobjecten": ONDERWERPOBJECT,
    "digitaleadressen": {
        "verstrektDoorBetrokkene": F("fk", target="betrokkenen", nullable=True),
        "verstrektDoorPartij": F("fk", target="partijen", nullable=True),
        "adres": s(80, True),
        "soortDigitaalAdres": F("str", True, enum=("email", "telefoonnummer", "overig")),
        "isStandaardAdres": F("bool"), "omschrijving": s(40),
        "referentie": s(50, pattern=REFERENTIE),
    },
    "internetaken": {
        "nummer": s(10, pattern=DIGITS), "gevraagdeHandeling": s(200, True),
        "aanleidinggevendKlantcontact": F("fk", True, target="klantcontacten"),
        "toegewezenAanActor": F("fk", target="actoren"),
        "toegewezenAanActoren": F("fklist", target="actoren"),
        "toelichting": s(1000),
        "status": F("str", True, enum=("te_verwerken", "verwerkt")),
        "afgehandeldOp": F("datetime", nullable=True),
    },
    "actorklantcontacten": {"actor": F("fk", True, target="actoren"),
                            "klantcontact": F("fk", True, target="klantcontacten")},
}
# Field names (camelCase) whose values must not be blank when given (model blank=False).
NOT_BLANK = {"kanaal", "onderwerp", "taal", "adres", "gevraagdeHandeling"}


def _ident_filter(key: str) -> Filter:
    def match(objects: Objects, kc: dict[str, Any], value: str) -> bool:
        return any(bool((o.get("onderwerpobjectidentificator") or {}).get(key) == value)
                   for o in objects["onderwerpobjecten"].values()
                   if (o.get("klantcontact") or {}).get("uuid") == kc["uuid"])
    return match


def _field(*path: str) -> Filter:
    def match(objects: Objects, obj: dict[str, Any], value: str) -> bool:
        current: Any = obj
        for key in path:
            current = current.get(key) if isinstance(current, dict) else None
        if isinstance(current, bool):
            current = "true" if current else "false"
        return bool(current == value)
    return match


def _actor_in(objects: Objects, task: dict[str, Any], value: str) -> bool:
    return any(bool(a["uuid"] == value) for a in task.get("toegewezenAanActoren", []))


FILTERS: dict[str, dict[str, Filter]] = {
    "klantcontacten": {
        "nummer": _field("nummer"), "kanaal": _field("kanaal"),
        **{f"onderwerpobject__onderwerpobjectidentificator{k[0].upper()}{k[1:]}":
           _ident_filter(k) for k in IDENT},
    },
    "betrokkenen": {"hadKlantcontact__uuid": _field("hadKlantcontact", "uuid")},
    "digitaleadressen": {"verstrektDoorBetrokkene__uuid": _field("verstrektDoorBetrokkene", "uuid"),
                         "referentie": _field("referentie"), "adres": _field("adres")},
    "internetaken": {
        "aanleidinggevendKlantcontact__uuid": _field("aanleidinggevendKlantcontact", "uuid"),
        "nummer": _field("nummer"), "status": _field("status"),
        "toegewezenAanActor__uuid": _actor_in,
    },
    "actorklantcontacten": {"klantcontact__uuid": _field("klantcontact", "uuid"),
                            "actor__uuid": _field("actor", "uuid")},
    "onderwerpobjecten": {f"onderwerpobjectidentificator{k[0].upper()}{k[1:]}":
                          _field("onderwerpobjectidentificator", k) for k in IDENT},
    "actoren": {
        "soortActor": _field("soortActor"), "naam": _field("naam"),
        "indicatieActief": _field("indicatieActief"),
        **{f"actoridentificator{k[0].upper()}{k[1:]}": _field("actoridentificator", k)
           for k in IDENT},
    },
}
