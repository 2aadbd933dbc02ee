"""Canned responses: the standard answers agents insert instead of typing them again.

Configured per tenant and language, under the console's per-tenant tables:

    [adapters.console.tenants.utrecht.canned]
    nl = [
      { shortcut = "tijden", title = "Openingstijden",
        text = "Het stadskantoor is open van 9 tot 17 uur. Met vriendelijke groet, {agent}" },
    ]
    en = [ ... ]

A thread shows the answers of its tenant in its language. The agent inserts one by
typing `/` and its shortcut in the reply box (Enter inserts it, it is not sent) or picks
it from a list; it goes into the reply box, where the agent can still change it before
sending. Placeholders are filled in by the server for the thread at hand: `{agent}` (the
agent's name as the citizen sees it) and `{municipality}` (the tenant's name). Anything
else between braces is refused when the configuration is loaded, so a typo never reaches
a citizen as "{agnet}".
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass

from handover.sdk.options import Table, index, type_name

__all__ = ["PLACEHOLDERS", "CannedResponse", "fill", "read_canned"]

#: What a canned text may contain between braces, and what each stands for.
PLACEHOLDERS = {"agent": "the agent's name", "municipality": "the municipality's name"}
#: Typed after "/" in the reply box: short, no spaces, so it ends at the first space.
_SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,29}$")
#: A language of the texts catalogue: "nl", "en", "pap".
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
MAX_TEXT_LENGTH = 4000
MAX_TITLE_LENGTH = 80
#: Per tenant and language: a picker list of hundreds helps nobody.
MAX_PER_LANGUAGE = 200


@dataclass(frozen=True, slots=True)
class CannedResponse:
    """One standard answer: typed as `/<shortcut>`, listed as `title`."""

    shortcut: str
    title: str
    text: str


def read_canned(tenant: Table) -> dict[str, tuple[CannedResponse, ...]]:
    """The `canned` table of one `[...tenants.<id>]` table: language -> answers."""
    table = tenant.child("canned")
    out: dict[str, tuple[CannedResponse, ...]] = {}
    for language, raw in table.data.items():
        table.known.append(language)
        at = table.at(language)
        if not _LANGUAGE.match(language):
            table.issues.add(at, "use a language code such as \"nl\" or \"en\"")
            continue
        if not isinstance(raw, list):
            table.issues.add(at, "expected an array of tables like "
                                 f'[{{ shortcut = "tijden", title = "...", text = "..." }}], '
                                 f"got {type_name(raw)}")
            continue
        if len(raw) > MAX_PER_LANGUAGE:
            table.issues.add(at, f"at most {MAX_PER_LANGUAGE} answers per language")
        answers: list[CannedResponse] = []
        seen: set[str] = set()
        for i, item in enumerate(raw):
            answer = _answer(Table(item, index(at, i), table.issues), seen)
            if answer is not None:
                answers.append(answer)
        out[language] = tuple(answers)
    return out


def _answer(entry: Table, seen: set[str]) -> CannedResponse | None:
    shortcut = entry.required_string("shortcut", 'what the agent types after "/"')
    title = entry.required_string("title", "the answer's name in the list")
    text = entry.required_string("text", "the answer itself")
    entry.finish()
    ok = shortcut is not None and title is not None and text is not None
    if shortcut is not None:
        if not _SHORTCUT.match(shortcut):
            entry.issues.add(entry.at("shortcut"), "use lowercase letters, digits, '_' or '-' "
                                                   "(at most 30, no spaces)")
            ok = False
        elif shortcut in seen:
            entry.issues.add(entry.at("shortcut"), f"shortcut {shortcut!r} is given twice")
            ok = False
        seen.add(shortcut)
    if title is not None and len(title) > MAX_TITLE_LENGTH:
        entry.issues.add(entry.at("title"), f"at most {MAX_TITLE_LENGTH} characters")
        ok = False
    if text is not None:
        problem = _placeholder_problem(text)
        if problem:
            entry.issues.add(entry.at("text"), problem)
            ok = False
        elif len(text) > MAX_TEXT_LENGTH:
            entry.issues.add(entry.at("text"), f"at most {MAX_TEXT_LENGTH} characters")
            ok = False
    if not ok or shortcut is None or title is None or text is None:
        return None
    return CannedResponse(shortcut, title, text)


def _placeholder_problem(text: str) -> str | None:
    known = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        return f"{exc}: write a literal brace as {{{{ or }}}}; placeholders are {known}"
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            return f"unknown placeholder {{{name}}}: use {known} (a literal brace: {{{{ }}}})"
    return None


def fill(answer: CannedResponse, values: Mapping[str, str]) -> str:
    """The answer's text with its placeholders filled in (validated at load: only
    `PLACEHOLDERS` occur)."""
    return answer.text.format_map({k: values.get(k, "") for k in PLACEHOLDERS})
