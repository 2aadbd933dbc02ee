"""The Rasa adapter's `[adapters.<name>]` section: settings with per-tenant overrides.

One instance usually serves every municipality on the shared Gem installation, but
municipalities differ in how they want the handover to work (which button payloads or
intents mean "a person, please", which slots the agent may see, what the bot is told at
the end). So every setting below may be given once for the instance and overridden for one
tenant in `[adapters.<name>.tenants.<tenant>]`, like matterbridge's per-account
settings falling back to the general ones. Only the callback route's secret is
instance-wide: the route is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from adapters.rasa.wire import DEFAULT_HANDOVER_KEY
from handover.sdk.contracts import ConfigIssues
from handover.sdk.options import Issues, Table, tenant_tables

__all__ = ["RasaOptions", "TenantSettings", "parse_options"]

Mode = Literal["rest", "callback"]
EmptyAnswer = Literal["failure", "silence"]
Handback = Literal["none", "intent", "events"]

_MAX_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class TenantSettings:
    """How the adapter talks to Gem for one tenant (every key may be overridden)."""

    #: The Rasa server's base URL (`https://gem.example.nl`); the REST and callback
    #: webhooks live under `/webhooks/...`.
    url: str = ""
    #: "rest": the answer comes in the webhook's response. "callback": Rasa posts the
    #: bot's messages to our callback route while it handles the turn.
    mode: Mode = "rest"
    #: How long one turn may take before it counts as failed (never resent).
    turn_timeout_seconds: float = 15.0
    connect_timeout_seconds: float = 3.0
    #: The key of the custom payload that signals a handover.
    handover_key: str = DEFAULT_HANDOVER_KEY
    #: Citizen button payloads that ask for a person; such a turn is not sent to Rasa.
    handover_payloads: tuple[str, ...] = ()
    #: Intents of the citizen's turn that ask for a person (read from the tracker).
    handover_intents: tuple[str, ...] = ()
    #: Rasa's HTTP API (tracker, events, trigger_intent); off unless `api = true`.
    api: bool = False
    api_url: str = ""  # defaults to `url`
    api_token: str | None = None  # sent as ?token= (Rasa's --auth-token)
    #: Slots shown to the agent at a handover, and how many recent intents.
    show_slots: tuple[str, ...] = ()
    show_intents: int = 3
    #: What an empty answer means when the tracker cannot tell: "failure" (Rasa's
    #: internal timeout answers `[]`) or "silence" (the bot had nothing to say).
    empty_answer: EmptyAnswer = "failure"
    #: How the bot is told that the livechat ended.
    handback: Handback = "none"
    handback_intent: str = "livechat_ended"
    handback_slot: str = "handover_outcome"
    #: Custom payload keys the channels understand; any other custom payload is
    #: dropped and counted (`handover_rasa_custom_dropped_total`).
    custom_keys: tuple[str, ...] = ()

    @property
    def api_base(self) -> str:
        return (self.api_url or self.url).rstrip("/")


@dataclass(frozen=True, slots=True)
class RasaOptions:
    defaults: TenantSettings = field(default_factory=TenantSettings)
    tenants: Mapping[str, TenantSettings] = field(default_factory=dict)
    #: Secrets accepted in the callback URL (`/<name>/callback?token=...`); two while
    #: rotating.
    callback_tokens: tuple[str, ...] = ()

    def for_tenant(self, tenant: str) -> TenantSettings:
        return self.tenants.get(tenant, self.defaults)

    def all_settings(self) -> list[TenantSettings]:
        return [self.defaults, *self.tenants.values()]


_SETTING_KEYS = tuple(f.name for f in fields(TenantSettings))


def parse_options(section: Mapping[str, Any], path: str) -> RasaOptions:
    """Validate the section; raise ConfigIssues listing every problem with its path."""
    issues = Issues()
    table = Table(section, path, issues)
    defaults = _settings(table, TenantSettings(), top=True)
    tokens = table.strings("callback_token", allow_single=True)
    # A tenant without its own table gets the instance's settings (`for_tenant`).
    tenants = tenant_tables(table, lambda sub: _settings(sub, defaults, top=False))
    table.finish()
    for where, settings in [(path, defaults)] + [
        (f"{path}.tenants.{t}", s) for t, s in tenants.items()
    ]:
        _check_combination(where, settings, tokens, issues)
    if issues:
        raise ConfigIssues(issues.items)
    return RasaOptions(defaults=defaults, tenants=tenants, callback_tokens=tokens)


def _settings(t: Table, base: TenantSettings, *, top: bool) -> TenantSettings:
    values: dict[str, Any] = {}
    url = t.required_string("url", "the Rasa server, like https://gem.example.nl") if top else (
        t.optional_string("url")
    )
    if url is not None:
        values["url"] = _url(t, "url", url)
    api_url = t.optional_string("api_url")
    if api_url is not None:
        values["api_url"] = _url(t, "api_url", api_url)
    values["mode"] = t.choice("mode", base.mode, get_args(Mode))
    for key in ("turn_timeout_seconds", "connect_timeout_seconds"):
        seconds = t.duration(key, getattr(base, key))
        if seconds > _MAX_TIMEOUT_SECONDS:
            t.issues.add(t.at(key), f"must be at most {_MAX_TIMEOUT_SECONDS:g} seconds")
            seconds = getattr(base, key)
        values[key] = seconds
    values["handover_key"] = t.string("handover_key", base.handover_key)
    values["handover_payloads"] = t.strings("handover_payloads", base.handover_payloads)
    values["handover_intents"] = t.strings("handover_intents", base.handover_intents)
    values["api"] = t.boolean("api", base.api)
    token = t.optional_string("api_token")
    values["api_token"] = token if token is not None else base.api_token
    values["show_slots"] = t.strings("show_slots", base.show_slots)
    values["show_intents"] = t.integer("show_intents", base.show_intents, minimum=0, maximum=20)
    values["empty_answer"] = t.choice("empty_answer", base.empty_answer, get_args(EmptyAnswer))
    values["handback"] = t.choice("handback", base.handback, get_args(Handback))
    values["handback_intent"] = t.string("handback_intent", base.handback_intent)
    values["handback_slot"] = t.string("handback_slot", base.handback_slot)
    values["custom_keys"] = t.strings("custom_keys", base.custom_keys)
    if top:
        # Keys only the instance has; reading them here keeps the unknown-key check honest.
        t.known.extend(("callback_token", "tenants"))
    assert set(values) <= set(_SETTING_KEYS)
    return replace(base, **values)


def _url(t: Table, key: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        t.issues.add(t.at(key), f"expected an http(s) URL, got {value!r}")
        return ""
    if parts.query or parts.fragment:
        # A token in the URL would end up in logs; api_token is the place for it.
        t.issues.add(t.at(key), "give the base URL without query or fragment")
        return ""
    return value.rstrip("/")


def _check_combination(
    where: str, s: TenantSettings, tokens: tuple[str, ...], issues: Issues
) -> None:
    """Settings that are fine alone but cannot work together."""
    if s.handover_intents and not s.api:
        issues.add(
            f"{where}.handover_intents",
            "the intent of a turn is read from Rasa's tracker: set api = true (the HTTP "
            "API must be enabled on the Rasa server), or use handover_payloads instead",
        )
    if s.show_slots and not s.api:
        issues.add(f"{where}.show_slots", "slots are read from Rasa's tracker: set api = true")
    if s.handback != "none" and not s.api:
        issues.add(
            f"{where}.handback",
            f"handback = {s.handback!r} uses Rasa's HTTP API: set api = true or "
            "handback = \"none\"",
        )
    if s.mode == "callback" and not tokens:
        issues.add(
            f"{where}.mode",
            "the callback mode needs callback_token (the secret in the callback URL "
            "configured in Rasa's credentials.yml)",
        )
