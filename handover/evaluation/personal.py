"""Masking personal data in what the evaluation exports (transcripts, survey comments).

Two layers. First the values this conversation is known to carry: what the channel put
in the context about the citizen (a profile name, phone number, e-mail address, user
or caller id), the citizen's channel identity, and the names of the agents who took
part, including one only seen in the catalogue's "agent joined" notice. Those are
replaced wherever they occur, and a name also word by word ("Jan de Vries" masks
"Jan" and "Vries" on their own). Before that, `handover.observability.redaction.redact` masks BSNs
(11-proef), IBANs (mod-97), phone numbers and e-mail addresses in any text.

What this cannot find: a name the citizen types that the channel did not know
("mijn buurman Piet"), an address, a licence plate, a date of birth. Free text is
searched for patterns, not understood; reviewers must treat the export as
pseudonymised, not anonymous.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from handover.model import Conversation, Party, TranscriptEntry
from handover.observability.redaction import redact
from handover.texts.catalogue import Catalogue, CatalogueError

NAME_MASK = "[NAME]"
ID_MASK = "[ID]"

#: Context keys whose value identifies the citizen (the desk adapters show the same).
IDENTITY_KEYS = frozenset({"phone", "email", "user_id", "wa_id", "caller", "from"})
#: Name parts too common to mask on their own (Dutch and a few other particles).
_PARTICLES = frozenset(
    {"van", "der", "den", "de", "het", "ter", "ten", "te", "la", "le", "el", "al", "bin",
     "von", "und", "del", "da", "di", "du", "dos"}
)  # fmt: skip
_MIN_PART = 3
#: Erased and purged conversations carry a placeholder, not an identity.
_SYNTHETIC_KEY = re.compile(r"^(erased|purged):")


def _is_name_key(key: str) -> bool:
    # name, profile_name, display_name, username...: over-matching only hides a value.
    return key.endswith("name")


def context_personal(context: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """(names, identifiers) found in a context, nested mappings included."""
    names: set[str] = set()
    ids: set[str] = set()
    for key, value in context.items():
        if isinstance(value, Mapping):
            inner_names, inner_ids = context_personal(value)
            names |= inner_names
            ids |= inner_ids
        elif isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            lowered = str(key).lower()
            if _is_name_key(lowered):
                names.add(str(value).strip())
            elif lowered in IDENTITY_KEYS:
                ids.add(str(value).strip())
    return names, ids


def public_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """The context without the keys that identify the citizen (page, referrer... stay)."""
    out: dict[str, Any] = {}
    for key, value in context.items():
        lowered = str(key).lower()
        if _is_name_key(lowered) or lowered in IDENTITY_KEYS:
            continue
        out[key] = public_context(value) if isinstance(value, Mapping) else value
    return out


def _joined_pattern(catalogue: Catalogue, language: str) -> re.Pattern[str] | None:
    """A regex capturing the agent's name in the "agent joined" notice."""
    marker = "\x00AGENT\x00"
    try:
        text = catalogue.render("agent_joined", language, agent=marker)
    except (KeyError, CatalogueError):
        return None
    before, _, after = text.partition(marker)
    if not _:
        return None
    return re.compile(re.escape(before) + r"(?P<agent>.+?)" + re.escape(after) + r"$")


class PersonalData:
    """What one conversation is known to carry about people, and a mask for it."""

    def __init__(self, names: Iterable[str], ids: Iterable[str]) -> None:
        self.names = {n for n in names if n and n != "-"}
        self.ids = {i for i in ids if i}
        literals = sorted(self.ids | self.names, key=len, reverse=True)
        parts = {
            part
            for name in self.names
            for part in re.split(r"[\s\-]+", name)
            if len(part) >= _MIN_PART and part.lower() not in _PARTICLES
        }
        # Longest first, so a whole name is masked before its parts.
        self._literal = self._pattern(literals)
        self._parts = self._pattern(sorted(parts, key=len, reverse=True))

    @staticmethod
    def _pattern(values: list[str]) -> re.Pattern[str] | None:
        if not values:
            return None
        alternatives = "|".join(re.escape(v) for v in values)
        # Not inside a longer word or number: "Jan" must not mask "Januari".
        return re.compile(rf"(?<![\w]){'(?:' + alternatives + ')'}(?![\w])", re.IGNORECASE)

    @classmethod
    def of(
        cls,
        conversation: Conversation,
        transcript: Iterable[TranscriptEntry],
        catalogue: Catalogue | None = None,
    ) -> PersonalData:
        names, ids = context_personal(conversation.context)
        if not _SYNTHETIC_KEY.match(conversation.channel_key):
            ids.add(conversation.channel_key)
        if conversation.agent_name:
            names.add(conversation.agent_name)
        joined = _joined_pattern(catalogue, conversation.language) if catalogue else None
        for entry in transcript:
            if entry.sender_name:
                names.add(entry.sender_name)
            if joined is not None and entry.party is Party.SYSTEM:
                found = joined.match(entry.content.text)
                if found:
                    names.add(found.group("agent").strip())
        return cls(names, ids)

    def mask(self, text: str) -> str:
        # Patterns first: a name inside an e-mail address ("jan.devries@...") would
        # otherwise be masked alone and break the address apart before it is found.
        text = redact(text)
        if self._literal is not None:
            text = self._literal.sub(self._literal_mask, text)
        if self._parts is not None:
            text = self._parts.sub(NAME_MASK, text)
        return text

    def _literal_mask(self, match: re.Match[str]) -> str:
        found = match.group().casefold()
        return ID_MASK if any(found == i.casefold() for i in self.ids) else NAME_MASK

    def mask_value(self, value: Any) -> Any:
        """`mask` applied to every string inside mappings and lists."""
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, Mapping):
            return {k: self.mask_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.mask_value(v) for v in value]
        return value
