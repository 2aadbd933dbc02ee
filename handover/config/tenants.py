"""Adapter instances and tenants of the configuration (see `handover.config.load`).

Adapters first: each `[adapters.<name>]` section is handed, secrets already resolved,
to its class's own `parse_config`. Then each tenant is checked against the instances it
names (kind and existence) and its hours and texts go to their own parsers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, get_args

from handover.config.callback import parse_callback, parse_registration, parse_registries
from handover.config.hours import OpeningHours
from handover.config.model import (
    DEFAULT_LANGUAGE,
    DEFAULT_LANGUAGES,
    ID_PATTERN,
    AdapterInstance,
    AdapterLookup,
    BotFailure,
    Consent,
    HandoverPolicy,
    QueueFallback,
    RetentionPolicy,
    SurveyPolicy,
    TenantConfig,
)
from handover.daemon import registry
from handover.sdk.contracts import AdapterKind, ConfigIssue, ConfigIssues
from handover.sdk.options import Issues, Table, did_you_mean, index, join, type_name
from handover.texts.catalogue import Catalogue

_ID_RULE = "lowercase letters, digits, '-' and '_', at most 63, starting with a letter or digit"

# Same shape as the catalogue's: "nl", "en", "pt-br". Lowercase on purpose, so that a
# tenant's languages compare equal to the `texts.<lang>` tables and the widget's tags.
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
# Loose on purpose: Dutch service numbers ("14 030"), landlines and +31 numbers.
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{1,30}$")


# -- adapters --------------------------------------------------------------------------


def parse_adapters(
    section: Mapping[str, Any], issues: Issues, lookup: AdapterLookup
) -> dict[str, AdapterInstance]:
    """Load every adapter instance that can be loaded; report the others."""
    instances: dict[str, AdapterInstance] = {}
    for name, value in section.items():
        path = join("adapters", name)
        if not ID_PATTERN.match(name):
            issues.add(path, f"adapter instance name {name!r} must be {_ID_RULE} (it is "
                             "used in URLs)")
        if not isinstance(value, Mapping):
            issues.add(path, f'expected table ([{path}] with type = "..."), got '
                             f"{type_name(value)}")
            continue
        instance = _adapter(name, value, path, issues, lookup)
        if instance is not None:
            instances[name] = instance
    return instances


def _adapter(
    name: str, section: Mapping[str, Any], path: str, issues: Issues, lookup: AdapterLookup
) -> AdapterInstance | None:
    type_path = join(path, "type")
    type_ = section.get("type")
    if type_ is None:
        issues.add(type_path, 'required: the adapter type, e.g. type = "rest" (see '
                              "`handover adapters`)")
        return None
    if not isinstance(type_, str):
        issues.add(type_path, f"expected string, got {type_name(type_)}")
        return None
    try:
        cls = lookup(type_)
    except KeyError as exc:
        # registry.UnknownAdapter says what is installed; a plain KeyError's str() is
        # only the repr of the key.
        message = str(exc) if isinstance(exc, registry.UnknownAdapter) else (
            f"no adapter type {type_!r} is installed"
        )
        issues.add(type_path, message)
        return None
    except Exception as exc:  # an installed adapter whose module is broken
        issues.add(type_path, f"adapter type {type_!r} cannot be loaded: "
                              f"{type(exc).__name__}: {exc}")
        return None
    kind = getattr(cls, "kind", None)
    if not isinstance(kind, AdapterKind):
        issues.add(type_path, f"adapter type {type_!r} declares no kind (channel, bot, desk or "
                              "registry)")
        return None
    options_section = {key: value for key, value in section.items() if key != "type"}
    try:
        options = cls.parse_config(options_section, path)
    except (ConfigIssues, ConfigIssue) as exc:
        issues.absorb(exc)
        return None
    except Exception as exc:  # third-party code: report it, keep checking the rest
        issues.add(path, f"the {type_!r} adapter failed to read its options: "
                         f"{type(exc).__name__}: {exc}")
        return None
    return AdapterInstance(name=name, type=type_, kind=kind, cls=cls, options=options)


# -- tenants ---------------------------------------------------------------------------


def parse_tenants(
    section: Mapping[str, Any] | None,
    root: Table,
    adapters: Mapping[str, AdapterInstance],
    declared: set[str],
) -> dict[str, TenantConfig]:
    if section is None and root.has("tenants"):
        return {}  # not a table: already reported
    if not section:
        root.issues.add("tenants", "at least one tenant is required: [tenants.<id>] with name, "
                                   "channels, bot and desk")
        return {}
    tenants: dict[str, TenantConfig] = {}
    for tenant_id, value in section.items():
        path = join("tenants", tenant_id)
        if not ID_PATTERN.match(tenant_id):
            root.issues.add(path, f"tenant id {tenant_id!r} must be {_ID_RULE} (it is used in "
                                  "URLs)")
        table = Table(value, path, root.issues, root.env_paths)
        tenant = _tenant(tenant_id, table, adapters, declared)
        if tenant is not None:
            tenants[tenant_id] = tenant
    return tenants


def _tenant(
    tenant_id: str,
    t: Table,
    adapters: Mapping[str, AdapterInstance],
    declared: set[str],
) -> TenantConfig | None:
    issues = t.issues
    name = t.required_string("name", "the municipality's name, shown to agents")
    channels = _references(t, "channels", AdapterKind.CHANNEL, adapters, declared)
    bot = _reference(t, "bot", AdapterKind.BOT, adapters, declared)
    desk = _reference(t, "desk", AdapterKind.DESK, adapters, declared)
    default_language, languages = _languages(t)
    hours_section = t.raw_table("hours")
    handover = _handover(t.child("handover"))
    survey = _survey(t.child("survey"))
    retention = _retention(t.child("retention"))
    registries, complete = parse_registries(t, adapters, declared)
    callback = parse_callback(t.child("callback"), registries, complete, adapters)
    registration = parse_registration(t.child("registration"))
    texts_section = t.raw_table("texts")
    t.finish()

    hours: OpeningHours | None = None
    try:
        hours = OpeningHours.from_config(hours_section, t.at("hours"))
    except (ConfigIssues, ConfigIssue) as exc:
        issues.absorb(exc)

    if texts_section is not None and languages:
        for language in texts_section:
            if _normalise_language(language) not in languages:
                issues.add(
                    join(t.at("texts"), language),
                    f"{language!r} is not one of this tenant's languages "
                    f"({', '.join(languages)}){did_you_mean(language, languages)}",
                )
    catalogue: Catalogue | None = None
    try:
        catalogue = Catalogue.from_config(texts_section, t.at("texts"), default_language)
    except (ConfigIssues, ConfigIssue) as exc:
        issues.absorb(exc)

    if (name is None or not channels or bot is None or desk is None or hours is None
            or catalogue is None):
        return None  # the reason is already among the issues
    return TenantConfig(
        id=tenant_id, name=name, channels=channels, bot=bot, desk=desk,
        default_language=default_language, languages=languages, hours=hours,
        handover=handover, survey=survey, catalogue=catalogue, retention=retention,
        registries=registries, callback=callback, registration=registration,
    )


def _reference(
    t: Table, key: str, kind: AdapterKind, adapters: Mapping[str, AdapterInstance],
    declared: set[str],
) -> str | None:
    value = t.required_string(key, f"the name of a [adapters.<name>] section of a {kind} "
                                   "adapter")
    if value is None:
        return None
    return value if _check_reference(t, t.at(key), value, kind, adapters, declared) else None


def _references(
    t: Table, key: str, kind: AdapterKind, adapters: Mapping[str, AdapterInstance],
    declared: set[str],
) -> tuple[str, ...]:
    if not t.has(key):
        t.known.append(key)
        t.issues.add(t.at(key), f"required: the names of {kind} adapter instances, e.g. "
                                '["web"]')
        return ()
    names = t.strings(key)
    if not names:
        if isinstance(t.data.get(key), list) and not t.data[key]:
            t.issues.add(t.at(key), f"name at least one {kind} adapter instance")
        return ()
    ok = True
    for i, value in enumerate(names):
        item_path = index(t.at(key), i)
        if value in names[:i]:
            t.issues.add(item_path, f"{value!r} is listed twice")
            ok = False
        elif not _check_reference(t, item_path, value, kind, adapters, declared):
            ok = False
    return names if ok else ()


def _check_reference(
    t: Table, path: str, name: str, kind: AdapterKind,
    adapters: Mapping[str, AdapterInstance], declared: set[str],
) -> bool:
    instance = adapters.get(name)
    if instance is None:
        if name in declared:
            return False  # declared but broken: its own issues say why
        t.issues.add(path, f"no adapter instance {name!r} is declared (add [adapters.{name}])"
                           f"{did_you_mean(name, declared)}")
        return False
    if instance.kind != kind:
        t.issues.add(path, f"adapter {name!r} (type {instance.type!r}) is a {instance.kind} "
                           f"adapter, not a {kind} adapter")
        return False
    return True


def _normalise_language(language: str) -> str:
    return language.strip().replace("_", "-").lower()


def _languages(t: Table) -> tuple[str, tuple[str, ...]]:
    default_language = t.string("default_language", DEFAULT_LANGUAGE)
    languages = t.strings("languages", DEFAULT_LANGUAGES)
    valid = True
    for path, language in [(t.at("default_language"), default_language)] + [
        (index(t.at("languages"), i), lang) for i, lang in enumerate(languages)
    ]:
        if not _LANGUAGE.match(language):
            t.issues.add(path, f"{language!r} is not a lowercase language code such as 'nl', "
                               "'en' or 'pt-br'")
            valid = False
    if not languages and t.has("languages"):
        t.issues.add(t.at("languages"), "name at least one language")
    elif valid and default_language not in languages:
        t.issues.add(t.at("languages"), f"must contain the default_language "
                                        f"{default_language!r}")
    for i, language in enumerate(languages):
        if language in languages[:i]:
            t.issues.add(index(t.at("languages"), i), f"{language!r} is listed twice")
    return default_language, languages


def _handover(t: Table) -> HandoverPolicy:
    defaults = HandoverPolicy()
    check = t.boolean("check_availability", defaults.check_availability)
    queue_timeout = t.duration("queue_timeout_seconds", defaults.queue_timeout_seconds)
    fallback = t.choice("queue_fallback", defaults.queue_fallback, get_args(QueueFallback))
    phone = t.optional_string("phone")
    if phone is not None and not _PHONE.match(phone):
        t.issues.add(t.at("phone"), f"{phone!r} is not a phone number such as \"14 030\" or "
                                    "\"+31 30 286 00 00\"")
    elif phone is None and fallback == "phone" and not t.has("phone"):
        t.issues.add(t.at("phone"), 'required when queue_fallback = "phone": the number '
                                    "citizens can call instead")
    agent_idle = t.duration("agent_inactivity_seconds", defaults.agent_inactivity_seconds)
    citizen_idle = t.duration("citizen_inactivity_seconds", defaults.citizen_inactivity_seconds)
    bot_failure = t.choice("bot_failure", defaults.bot_failure, get_args(BotFailure))
    escalations = t.integer("max_bot_escalations", defaults.max_bot_escalations, minimum=0)
    queue_update = t.duration("queue_update_seconds", defaults.queue_update_seconds)
    consent = t.choice("consent", defaults.consent, get_args(Consent))
    consent_timeout = t.duration("consent_timeout_seconds", defaults.consent_timeout_seconds)
    t.finish()
    return HandoverPolicy(
        check_availability=check, queue_timeout_seconds=queue_timeout,
        queue_fallback=fallback, phone=phone, agent_inactivity_seconds=agent_idle,
        citizen_inactivity_seconds=citizen_idle, bot_failure=bot_failure,
        max_bot_escalations=escalations, queue_update_seconds=queue_update,
        consent=consent, consent_timeout_seconds=consent_timeout,
    )


def _survey(t: Table) -> SurveyPolicy:
    defaults = SurveyPolicy()
    enabled = t.boolean("enabled", defaults.enabled)
    timeout = t.duration("timeout_seconds", defaults.timeout_seconds)
    ask_comment = t.boolean("ask_comment", defaults.ask_comment)
    t.finish()
    return SurveyPolicy(enabled, timeout, ask_comment)


def _retention(t: Table) -> RetentionPolicy:
    defaults = RetentionPolicy()
    bodies = t.integer("bodies_days", defaults.bodies_days, minimum=1)
    metadata = t.integer("metadata_days", max(bodies, defaults.metadata_days), minimum=1)
    if metadata < bodies:
        # Deleting the conversation would take the bodies with it early.
        t.issues.add(t.at("metadata_days"), f"must be at least bodies_days ({bodies}), "
                                            f"got {metadata}")
        metadata = bodies
    t.finish()
    return RetentionPolicy(bodies, metadata)
