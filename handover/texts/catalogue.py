"""Every system text the daemon shows, in Dutch and English, overridable per tenant.

The core never writes a citizen-facing sentence itself: it asks the catalogue for a key
in the conversation's language. Built-in texts live in `handover/texts/<lang>.toml`
(data files, so a translator can add a language without touching code); a tenant can
replace any of them in its configuration::

    [tenants.utrecht.texts.nl]
    queued = "U staat in de wachtrij. Wachtenden voor u: {position}."
    [tenants.utrecht.texts.de]
    agent_joined = "{agent} hilft Ihnen weiter."

Each key documents the placeholders its text may use (`placeholders(key)`); callers
always pass exactly those. Texts are checked when they are loaded, so rendering cannot
fail on a tenant's typo in the middle of a conversation.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
import string
import tomllib
from collections.abc import Mapping
from importlib import resources
from typing import Any

from handover.sdk.contracts import ConfigIssue, ConfigIssues

__all__ = ["FALLBACK_LANGUAGE", "KEYS", "Catalogue", "CatalogueError"]

#: The language of last resort: its built-in file has every key.
FALLBACK_LANGUAGE = "nl"

# key -> the placeholders its text may use. The comment says what the text is for;
# keep them in step with texts/*.toml.
_PLACEHOLDERS: dict[str, frozenset[str]] = {
    # -- to the citizen --
    "handover_checking": frozenset(),  # we are looking for an employee
    "outside_hours": frozenset({"hours", "phone"}),  # closed now; opening hours; phone
    "no_agents": frozenset({"phone"}),  # nobody free; call or go on with the bot
    "queued": frozenset({"position"}),  # in the queue, {position} people ahead (0 = next)
    "queued_unknown": frozenset(),  # in the queue, position unknown
    "queue_update": frozenset({"position", "minutes"}),  # people ahead, estimated minutes
    "queue_timeout_phone": frozenset({"phone", "hours"}),  # gave up waiting; call instead
    "queue_timeout_message": frozenset(),  # gave up waiting; leave a message here
    "queue_timeout_bot": frozenset(),  # gave up waiting; go on with the bot
    "agent_joined": frozenset({"agent"}),  # {agent} (a first name) is now helping
    "agent_closed": frozenset(),  # the employee ended the chat
    "agent_inactive": frozenset(),  # employee stopped responding; back with the bot
    "citizen_inactive": frozenset(),  # ended because we did not hear from the citizen
    "back_to_bot": frozenset(),  # talking to the bot again
    "survey_question": frozenset(),  # recommend us? 0-10
    "survey_comment": frozenset(),  # explain your score (optional)
    "survey_thanks": frozenset(),
    "survey_invalid": frozenset(),  # answer with a number from 0 to 10
    "bot_apology": frozenset(),  # the bot cannot help right now, try again soon
    "bot_escalating": frozenset(),  # the bot is connecting to an employee
    "delivery_failed": frozenset(),  # message did not reach the employee; try again
    "desk_unavailable": frozenset({"phone"}),  # chat with employees down; call instead
    "handover_refused": frozenset(),  # already with or waiting for an employee
    "skip_label": frozenset(),  # button label: skip the survey comment
    "desk_delayed": frozenset(),  # your messages reach the employee later; they are kept
    "consent_question": frozenset(),  # may we hand over? the employee sees this chat
    "consent_declined": frozenset(),  # fine, you go on with the bot
    "consent_yes_label": frozenset(),  # button label: yes, hand over
    "consent_no_label": frozenset(),  # button label: no
    "window_closing": frozenset(),  # long wait; a late answer still reaches you (WhatsApp)
    "transferring": frozenset(),  # (phone) you are put through to an employee
    "transfer_failed": frozenset({"phone"}),  # (phone) putting through failed; bot goes on
    "transfer_goodbye": frozenset({"phone", "hours"}),  # (phone) failed; call later, bye
    # -- the callback request (contactverzoek) --
    "callback_offer": frozenset(),  # may we call/mail you back? we store question + address
    "callback_yes_label": frozenset(),  # button label: yes, call me back
    "callback_no_label": frozenset(),  # button label: no thanks
    "callback_declined": frozenset(),  # fine, nothing stored; go on with the bot
    "callback_caller_number": frozenset({"digits"}),  # (phone) call back on this number?
    "callback_other_number_label": frozenset(),  # button label: another number
    "callback_address": frozenset(),  # your phone number or e-mail address?
    "callback_address_spoken": frozenset(),  # (phone) your phone number, digit by digit?
    "callback_address_invalid": frozenset(),  # not a phone number or e-mail; try again
    "callback_address_invalid_spoken": frozenset(),  # (phone) not a phone number; again
    "callback_name": frozenset(),  # your name? (optional)
    "callback_question": frozenset(),  # what is your question?
    "callback_question_suggested": frozenset({"question"}),  # this question, or another?
    "callback_same_label": frozenset(),  # button label: that question
    "callback_confirmed": frozenset({"reference", "when"}),  # stored: reference; when
    "callback_stopped": frozenset(),  # stopped; nothing stored
    "callback_abandoned": frozenset(),  # no answer; nothing stored
    "callback_intro_busy": frozenset(),  # (queue timeout) nobody free now
    # -- notes to the employee, shown in the desk --
    "note_citizen_left": frozenset(),
    "note_queue_timeout": frozenset(),
    "note_citizen_inactive": frozenset(),
    "note_agent_inactive": frozenset(),
    "note_delivery_failed": frozenset(),
    "note_template_fallback": frozenset(),
}

#: Every known text key.
KEYS: frozenset[str] = frozenset(_PLACEHOLDERS)

# BCP 47-ish: a 2-3 letter language, optionally a region or script ("nl", "pt-br").
_LANGUAGE_RE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{2,8})*")
_BARE_KEY_RE = re.compile(r"[A-Za-z0-9_-]+")


class CatalogueError(Exception):
    """Texts that cannot be used: bad overrides, or a render call with wrong params."""


class Catalogue:
    """The system texts of one tenant: built-in texts with the tenant's overrides.

    `overrides` maps a language to {key: text}; they are checked like configuration
    and CatalogueError lists every problem. `default_language` is the tenant's main
    language, used when a text is missing in the citizen's language.
    """

    def __init__(
        self,
        overrides: Mapping[str, Mapping[str, str]] | None = None,
        default_language: str = FALLBACK_LANGUAGE,
    ) -> None:
        issues: list[ConfigIssue] = []
        self._overrides = _check_overrides(overrides or {}, "texts", issues)
        if issues:
            raise CatalogueError("\n".join(str(issue) for issue in issues))
        self._default_language = _normalise(default_language)

    @classmethod
    def from_config(
        cls,
        section: Mapping[str, Any] | None,
        path: str,
        default_language: str = FALLBACK_LANGUAGE,
    ) -> Catalogue:
        """Build from a `[tenants.<name>.texts]` section: one table per language.

        Raises ConfigIssues listing every problem at once, each with its dotted path:
        unknown keys (with a did-you-mean), non-string or empty texts, placeholders the
        key does not allow and malformed format strings.
        """
        if section is None:
            return cls(None, default_language)
        issues: list[ConfigIssue] = []
        overrides = _check_overrides(section, path, issues)
        if issues:
            raise ConfigIssues(issues)
        return cls(overrides, default_language)

    def render(self, key: str, language: str, **params: object) -> str:
        """The text for `key` in `language` (or the closest fallback), filled in.

        Lookup order: the tenant's override in `language`, the built-in `language`,
        the override in the default language, the built-in default language, and the
        built-in Dutch. A regional tag such as "en-GB" also tries plain "en".

        Raises KeyError for an unknown key, and CatalogueError when a documented
        placeholder of the key is not in `params`, even if the chosen text does not use
        it: a caller bug should show up whatever language the citizen speaks. Extra
        params are ignored, so a caller may pass shared context (hours, phone) to every
        key.
        """
        expected = self.placeholders(key)
        missing = expected - params.keys()
        if missing:
            raise CatalogueError(
                f"text {key!r} takes {_braces(expected)}; missing: {_braces(missing)}"
            )
        # Checked when loaded: plain {name} fields of `expected` only, so this cannot
        # fail on a tenant's text, and extra params cannot leak into it.
        return self._lookup(key, language).format_map(
            {name: params[name] for name in expected}
        )

    def languages(self) -> frozenset[str]:
        """The languages with built-in texts or at least one tenant override."""
        return frozenset(_builtin()) | frozenset(
            language for language, texts in self._overrides.items() if texts
        )

    @staticmethod
    def placeholders(key: str) -> frozenset[str]:
        """The placeholders `key`'s text may use; KeyError for an unknown key."""
        return _PLACEHOLDERS[key]

    def _lookup(self, key: str, language: str) -> str:
        builtin = _builtin()
        for tag in (*_with_primary(language), *_with_primary(self._default_language)):
            for source in (self._overrides, builtin):
                text = source.get(tag, {}).get(key)
                if text is not None:
                    return text
        return builtin[FALLBACK_LANGUAGE][key]


# -- checking ------------------------------------------------------------------------


def _check_overrides(
    section: Mapping[str, Any], path: str, issues: list[ConfigIssue]
) -> dict[str, dict[str, str]]:
    """Validate `{language: {key: text}}`, appending every problem; return the good part."""
    if not isinstance(section, Mapping):
        issues.append(ConfigIssue(path, "expected a table with one table of texts per language"))
        return {}
    result: dict[str, dict[str, str]] = {}
    for raw_language, texts in section.items():
        language_path = _join(path, str(raw_language))
        if not isinstance(texts, Mapping):
            if raw_language in KEYS:
                # The most likely slip: `[tenants.x.texts]` without the language.
                issues.append(ConfigIssue(
                    language_path, f"texts go under a language: [{path}.nl] {raw_language} = ..."
                ))
            else:
                issues.append(ConfigIssue(
                    language_path, f"expected a table of texts, e.g. [{path}.nl]"
                ))
            continue
        language = _normalise(str(raw_language))
        if not _LANGUAGE_RE.fullmatch(language):
            issues.append(ConfigIssue(
                language_path, f"{raw_language!r} is not a language code such as 'nl' or 'en'"
            ))
            continue
        checked = result.setdefault(language, {})
        for key, text in texts.items():
            key_path = _join(language_path, str(key))
            problem = _check_text(str(key), text)
            if problem is not None:
                issues.append(ConfigIssue(key_path, problem))
            else:
                checked[str(key)] = text
    return result


def _check_text(key: str, text: object) -> str | None:
    """What is wrong with `text` as the text for `key`, or None."""
    if key not in KEYS:
        matches = difflib.get_close_matches(key, sorted(KEYS), n=1)
        hint = f" (did you mean {matches[0]!r}?)" if matches else ""
        return f"unknown text key{hint}"
    if not isinstance(text, str):
        return f"expected a string, got {type(text).__name__}"
    if not text.strip():
        return "the text is empty"
    allowed = _PLACEHOLDERS[key]
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError as error:
        return f"invalid format string: {error} (write {{{{ and }}}} for a literal brace)"
    for _literal, field, format_spec, conversion in fields:
        if field is None:
            continue
        if not field.isidentifier() or format_spec or conversion:
            # Only plain {name}: indexing, attributes, conversions and format specs could
            # fail at render time or reach into the objects passed in.
            shown = _field_text(field, format_spec, conversion)
            takes = f"this text takes {_braces(allowed)}" if allowed else "this text takes none"
            return f"placeholder {shown} is not allowed: only plain {{name}} works ({takes})"
        if field not in allowed:
            if not allowed:
                return f"unknown placeholder {{{field}}}: this text takes no placeholders"
            matches = difflib.get_close_matches(field, sorted(allowed), n=1)
            hint = f"did you mean {{{matches[0]}}}? " if matches else ""
            return f"unknown placeholder {{{field}}} ({hint}allowed: {_braces(allowed)})"
    return None


# -- built-in texts --------------------------------------------------------------------


@functools.cache
def _builtin() -> dict[str, dict[str, str]]:
    """The built-in texts per language, loaded once from handover/texts/*.toml.

    A broken built-in file is a bug in this package, not a configuration error, so it
    raises CatalogueError; every key must be in the fallback language so that
    rendering a known key always finds a text.
    """
    texts: dict[str, dict[str, str]] = {}
    issues: list[ConfigIssue] = []
    for entry in resources.files("handover.texts").iterdir():
        if not entry.name.endswith(".toml"):
            continue
        language = entry.name.removesuffix(".toml")
        data = tomllib.loads(entry.read_text(encoding="utf-8"))
        texts.update(_check_overrides({language: data}, f"handover/texts/{entry.name}", issues))
    missing = KEYS - texts.get(FALLBACK_LANGUAGE, {}).keys()
    if missing:
        issues.append(ConfigIssue(
            f"handover/texts/{FALLBACK_LANGUAGE}.toml", f"missing keys: {sorted(missing)}"
        ))
    if issues:
        raise CatalogueError("\n".join(str(issue) for issue in issues))
    return texts


# -- small helpers ---------------------------------------------------------------------


def _normalise(language: str) -> str:
    """'NL_be ' -> 'nl-be': tags compare case-insensitively, '_' as '-'."""
    return language.strip().replace("_", "-").lower()


def _with_primary(language: str) -> tuple[str, ...]:
    """'en-gb' -> ('en-gb', 'en'); 'nl' -> ('nl',)."""
    tag = _normalise(language)
    primary = tag.split("-")[0]
    return (tag,) if primary == tag else (tag, primary)


def _braces(names: frozenset[str] | set[str]) -> str:
    return ", ".join(f"{{{name}}}" for name in sorted(names))


def _field_text(field: str, format_spec: str | None, conversion: str | None) -> str:
    text = field
    if conversion:
        text += f"!{conversion}"
    if format_spec:
        text += f":{format_spec}"
    return f"{{{text}}}"


def _join(path: str, key: str) -> str:
    """Append a key to a dotted path, quoting it the TOML way when it is not a bare key."""
    if _BARE_KEY_RE.fullmatch(key):
        return f"{path}.{key}"
    return f"{path}.{json.dumps(key, ensure_ascii=False)}"
