"""What the demo bot knows: a handful of municipal topics in Dutch and English.

Pure data plus one matching function, so the texts can be read (and changed) without
reading the adapter. Keywords are regular expressions anchored at word starts: plain
substrings would let "hi" match "this" and "agent" match "agenda". Keywords of both
languages are always tried, because citizens do not always write in the language of the
page they are on; the answer is in the conversation's language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "HANDOVER_PAYLOAD",
    "LANGUAGES",
    "TEXTS",
    "TOPICS",
    "Intent",
    "Match",
    "Topic",
    "language_of",
    "match",
]

#: The button payload (and typed text) that asks for a person, as in Gem.
HANDOVER_PAYLOAD = "/handover"
LANGUAGES = ("nl", "en")


class Intent(StrEnum):
    HANDOVER = "handover"
    TOPIC = "topic"
    THANKS = "thanks"
    GREET = "greet"
    FALLBACK = "fallback"


@dataclass(frozen=True, slots=True)
class Topic:
    """One thing the bot can answer; `title` labels its button, `answer` is the reply."""

    key: str
    payload: str
    title: dict[str, str]
    answer: dict[str, str]
    pattern: re.Pattern[str]


def _words(*patterns: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(patterns) + ")", re.IGNORECASE)


TOPICS: tuple[Topic, ...] = (
    Topic(
        key="passport",
        payload="/passport",
        title={"nl": "Paspoort of ID-kaart", "en": "Passport or ID card"},
        answer={
            "nl": "Een paspoort of ID-kaart vraagt u persoonlijk aan bij het gemeentehuis. "
            "Maak eerst online een afspraak en neem een recente pasfoto en uw huidige "
            "document mee. Na ongeveer 5 werkdagen kunt u het nieuwe document ophalen.",
            "en": "You apply for a passport or ID card in person at the town hall. Book an "
            "appointment online first and bring a recent passport photo and your current "
            "document. You can collect the new document after about 5 working days.",
        },
        pattern=_words(
            r"paspoort", r"identiteitskaart", r"id-?kaart", r"reisdocument",
            r"passports?\b", r"id[ -]?cards?\b", r"identity cards?\b",
        ),
    ),
    Topic(
        key="waste",
        payload="/waste",
        title={"nl": "Afval", "en": "Waste collection"},
        answer={
            "nl": "Op de afvalkalender ziet u wanneer welk afval bij u wordt opgehaald. "
            "Grofvuil meldt u online aan; het wordt binnen twee weken opgehaald.",
            "en": "The waste calendar shows when each kind of waste is collected at your "
            "address. Bulky waste can be booked online; it is collected within two weeks.",
        },
        pattern=_words(
            r"afval", r"vuilnis", r"grofvuil", r"container", r"kliko", r"gft\b",
            r"waste", r"rubbish", r"garbage", r"trash", r"bins?\b", r"recycl",
        ),
    ),
    Topic(
        key="moving",
        payload="/moving",
        title={"nl": "Verhuizen", "en": "Moving house"},
        answer={
            "nl": "Een verhuizing geeft u online door met DigiD, vanaf 4 weken voor tot "
            "uiterlijk 5 dagen na de verhuisdatum. Komt u uit het buitenland, maak dan een "
            "afspraak om u in te schrijven.",
            "en": "You report a move online with DigiD, from 4 weeks before until 5 days "
            "after the moving date at the latest. Coming from abroad? Book an appointment "
            "to register your address.",
        },
        pattern=_words(
            r"verhui[sz]", r"adreswijziging", r"inschrijv", r"inschrijven", r"nieuw adres",
            r"moving\b", r"move house", r"moved\b", r"new address", r"change of address",
            r"regist(?:er|ering|ration)\b.{0,20}\baddress",
        ),
    ),
    Topic(
        key="parking",
        payload="/parking",
        title={"nl": "Parkeren", "en": "Parking permit"},
        answer={
            "nl": "Een parkeervergunning vraagt u online aan met DigiD. Binnen 2 weken "
            "hoort u of u een vergunning krijgt; er kan een wachtlijst zijn.",
            "en": "You apply for a parking permit online with DigiD. Within 2 weeks you "
            "hear whether you get one; there may be a waiting list.",
        },
        pattern=_words(r"parkeer", r"parkeren", r"parking", r"permit"),
    ),
    Topic(
        key="opening_hours",
        payload="/opening_hours",
        title={"nl": "Openingstijden", "en": "Opening hours"},
        answer={
            "nl": "Het gemeentehuis is open van maandag tot en met vrijdag van 9.00 tot "
            "17.00 uur, op donderdag tot 20.00 uur. Voor de meeste zaken maakt u eerst "
            "een afspraak.",
            "en": "The town hall is open Monday to Friday from 9:00 to 17:00, on Thursday "
            "until 20:00. For most matters, please book an appointment first.",
        },
        pattern=_words(
            r"openingstijd", r"geopend\b", r"open\b", r"gemeentehuis", r"stadhuis",
            r"opening (?:hours|times)", r"town hall", r"city hall", r"office hours",
        ),
    ),
)

_PERSON = _words(
    r"medewerkers?\b", r"mens(?:en)?\b", r"persoon\b", r"iemand spreken", r"agents?\b",
    r"employees?\b", r"person\b", r"humans?\b", r"real person", r"operator\b",
)
_THANKS = _words(r"bedankt", r"dank\s*(?:je|u)", r"dankjewel", r"thanks", r"thank you")
_GREETING = _words(
    r"hallo\b", r"hoi\b", r"goede(?:morgen|middag|navond)\b", r"dag\b",
    r"hello\b", r"hi\b", r"hey\b", r"good (?:morning|afternoon|evening)\b",
)

TEXTS: dict[str, dict[str, str]] = {
    "greet": {
        "nl": "Hallo! Ik ben de digitale assistent van de gemeente. Waar kan ik u mee helpen?",
        "en": "Hello! I am the municipality's digital assistant. How can I help you?",
    },
    "thanks": {
        "nl": "Graag gedaan! Kan ik u nog ergens anders mee helpen?",
        "en": "You're welcome! Is there anything else I can help you with?",
    },
    "fallback": {
        "nl": "Dat begrijp ik helaas niet. Kies een onderwerp of spreek een medewerker.",
        "en": "Sorry, I don't understand. Choose a topic or talk to an employee.",
    },
    "handover": {
        "nl": "Ik verbind u door met een medewerker. Een ogenblik geduld alstublieft.",
        "en": "I am connecting you with an employee. One moment, please.",
    },
    "handover_button": {"nl": "Medewerker spreken", "en": "Talk to an employee"},
}

_BY_PAYLOAD = {topic.payload: topic for topic in TOPICS}


@dataclass(frozen=True, slots=True)
class Match:
    """What the citizen asked for; `topic` is set for Intent.TOPIC."""

    intent: Intent
    topic: Topic | None = None


def language_of(language: str) -> str:
    """The script's language for a conversation language (Dutch unless English)."""
    return language if language in LANGUAGES else "nl"


def match(text: str, payload: str | None) -> Match:
    """Classify one citizen turn. A button payload wins over the text that came with it;
    asking for a person wins over everything (a citizen who says "I want a person about
    my passport" wants the person)."""
    if payload == HANDOVER_PAYLOAD or text.strip() == HANDOVER_PAYLOAD:
        return Match(Intent.HANDOVER)
    if payload in _BY_PAYLOAD:
        return Match(Intent.TOPIC, _BY_PAYLOAD[payload])
    if _PERSON.search(text):
        return Match(Intent.HANDOVER)
    # The topic mentioned first: "moving, and do I need a new parking permit?" is moving.
    found = [(m.start(), i) for i, t in enumerate(TOPICS) if (m := t.pattern.search(text))]
    if found:
        return Match(Intent.TOPIC, TOPICS[min(found)[1]])
    if _THANKS.search(text):
        return Match(Intent.THANKS)
    if _GREETING.search(text):
        return Match(Intent.GREET)
    return Match(Intent.FALLBACK)
