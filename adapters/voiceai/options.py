"""The VoiceAI Connect channel's `[adapters.<name>]` options and their validation."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from handover.sdk.contracts import ConfigIssue, ConfigIssues
from handover.sdk.options import Issues, Table

#: What a transfer target may look like: a tel: URI (E.164) or a sip: URI.
_TARGET = re.compile(r"^(tel:\+[0-9]{6,15}|sips?:[^\s@]+@[^\s@]+)$")
_HEADER = re.compile(r"^X-[A-Za-z0-9-]{1,60}$")

DEFAULT_FILLER = {"nl": "Een ogenblik alstublieft.", "en": "One moment please."}
DEFAULT_CHOICE_HINT = {
    "nl": "Zeg het nummer van uw keuze, of toets het in.",
    "en": "Say the number of your choice, or key it in.",
}


@dataclass(frozen=True, slots=True)
class VoiceOptions:
    """One VoiceAI Connect bot endpoint and how calls are handled."""

    #: The bearer token(s) the gateway sends (the new and the old one during a rotation).
    bot_tokens: tuple[str, ...]
    #: The bearer token(s) the contact centre's system uses to fetch a transcript.
    transcript_tokens: tuple[str, ...]
    #: The key that makes transfer references unguessable (HMAC-SHA256).
    reference_secret: str
    #: Where each tenant's calls are transferred to: "tel:+31..." or "sip:kcc@...".
    transfer_targets: Mapping[str, str]
    #: How long the gateway may wait for the answer to one POST of activities.
    response_budget_seconds: float = 3.0
    #: How long to wait for more of an answer once its first message arrived.
    settle_seconds: float = 0.05
    #: The keep-alive period told to the gateway at the start of a call.
    expires_seconds: int = 120
    #: Silence after which the gateway sends a `noUserInput` event (0: never).
    no_input_timeout_seconds: float = 8.0
    #: Silences in a row after which the call is ended politely.
    max_no_input: int = 3
    #: The longest DTMF input the gateway collects before sending it.
    dtmf_max_digits: int = 5
    #: The SIP header carrying the transcript reference on a transfer.
    reference_header: str = "X-Handover-Reference"
    #: How long a transfer reference fetches the transcript (a leaked one stops working).
    reference_ttl_seconds: float = 86400.0
    #: A failed transfer: "bot" (apologise, the bot goes on) or "goodbye" (end the call).
    transfer_failure: str = "bot"
    #: Sent to the bot as a button payload when a call starts, so it greets the caller.
    start_payload: str = "/greet"
    #: Spoken when the bot is slower than the budget; the answer follows on the next turn.
    filler: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_FILLER))
    #: Spoken after numbered options.
    choice_hint: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CHOICE_HINT))

    def text(self, texts: Mapping[str, str], language: str) -> str:
        return texts.get(language) or texts.get("nl") or next(iter(texts.values()), "")


def _tokens(t: Table, issues: Issues, key: str, what: str) -> tuple[str, ...]:
    tokens = t.strings(key, allow_single=True)
    if not t.has(key):
        issues.add(t.at(key), f"required: {what}, as a reference like \"${{VOICEAI_TOKEN}}\"")
    elif not tokens or len(tokens) > 2:
        issues.add(t.at(key), "give one token, or two during a rotation")
    return tokens


def _texts(t: Table, key: str, default: Mapping[str, str]) -> dict[str, str]:
    sub = t.child(key)
    out = dict(default)
    for language in list(sub.data):
        value = sub.optional_string(language)
        if value is not None:
            out[language] = value
    sub.finish()
    return out


def parse_options(section: Mapping[str, Any], path: str) -> VoiceOptions:
    """Validate a section; raises ConfigIssues listing every problem with its path."""
    issues = Issues()
    t = Table(section, path, issues)
    bot_tokens = _tokens(t, issues, "bot_token", "the token configured on the gateway's bot")
    transcript_tokens = _tokens(
        t, issues, "transcript_token", "the token of the contact centre's transcript lookup"
    )
    secret = t.required_string("reference_secret", "the key for transfer references")
    if secret is not None and len(secret) < 16:
        issues.add(t.at("reference_secret"), "must be at least 16 characters")
    targets: dict[str, str] = {}
    tenants = t.child("tenants")
    for tenant in list(tenants.data):
        row = tenants.child(tenant)
        target = row.required_string("transfer_target", 'e.g. "tel:+31140123" or "sip:kcc@pbx"')
        if target is not None and not _TARGET.match(target):
            issues.add(row.at("transfer_target"),
                       'expected "tel:+<digits>" or "sip:<user>@<host>"')
        elif target is not None:
            targets[tenant] = target
        row.finish()
    header = t.string("reference_header", "X-Handover-Reference")
    if not _HEADER.match(header):
        issues.add(t.at("reference_header"), 'expected a custom SIP header name like "X-Ref"')
    options = VoiceOptions(
        bot_tokens=bot_tokens,
        transcript_tokens=transcript_tokens,
        reference_secret=secret or "",
        transfer_targets=targets,
        response_budget_seconds=t.duration("response_budget_seconds", 3.0),
        settle_seconds=t.duration("settle_seconds", 0.05, allow_zero=True),
        expires_seconds=t.integer("expires_seconds", 120, minimum=10, maximum=3600),
        no_input_timeout_seconds=t.duration("no_input_timeout_seconds", 8.0, allow_zero=True),
        max_no_input=t.integer("max_no_input", 3, minimum=1, maximum=10),
        dtmf_max_digits=t.integer("dtmf_max_digits", 5, minimum=1, maximum=30),
        reference_header=header,
        reference_ttl_seconds=t.duration("reference_ttl_seconds", 86400.0),
        transfer_failure=t.choice("transfer_failure", "bot", ("bot", "goodbye")),
        start_payload=t.string("start_payload", "/greet"),
        filler=_texts(t, "filler", DEFAULT_FILLER),
        choice_hint=_texts(t, "choice_hint", DEFAULT_CHOICE_HINT),
    )
    t.finish()
    if issues:
        raise ConfigIssues(issues.items)
    return options


def check_tenants(options: VoiceOptions, tenants: Sequence[str], path: str) -> None:
    """Every tenant on the channel needs a transfer target, and only those may have one."""
    issues = [
        ConfigIssue(f"{path}.tenants.{name}.transfer_target",
                    "required: this tenant uses the channel, so its calls need a target")
        for name in tenants if name not in options.transfer_targets
    ]
    if tenants:
        # A target for a tenant that does not use the channel is most likely a typo in
        # the tenant id. (With no users at all, the tenants themselves did not load.)
        issues += [
            ConfigIssue(f"{path}.tenants.{name}", "this tenant does not use the channel")
            for name in options.transfer_targets if name not in tenants
        ]
    if issues:
        raise ConfigIssues(issues)
