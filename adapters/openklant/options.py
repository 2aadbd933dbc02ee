"""The openklant adapter's `[adapters.<name>]` options and their validation.

Every setting may be given at the instance level and overridden per tenant in
`[adapters.<name>.tenants.<id>]`: municipalities sharing a daemon usually each have their
own Open Klant (URL, token, actors), while the channel mapping is often shared. A tenant
without a table of its own uses the instance's settings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from adapters.openklant import wire
from adapters.openklant.client import DEFAULT_ACTIONS, OpenKlantSettings
from handover.sdk.contracts import ConfigIssue, ConfigIssues
from handover.sdk.options import Issues, Table, tenant_tables

#: `onderwerp` of a finished contact without a topic, unless configured otherwise.
DEFAULT_CONTACT_SUBJECT = "Contact met een medewerker"
#: The longest request timeout: a registration is retried by the outbox anyway.
MAX_TIMEOUT_SECONDS = 300.0
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ADDRESS_KEYS = {"phone": wire.AddressKind.PHONE, "email": wire.AddressKind.EMAIL}


@dataclass(frozen=True, slots=True)
class TenantRegistry:
    """Where and what one tenant registers."""

    settings: OpenKlantSettings
    #: The tenant's choice: register callback requests / finished contacts here.
    register_callbacks: bool = True
    register_contacts: bool = True
    #: `onderwerp` of a finished contact that has no topic.
    contact_subject: str = DEFAULT_CONTACT_SUBJECT


@dataclass(frozen=True, slots=True)
class OpenKlantOptions:
    """The instance's settings (None when only tenant tables give complete ones) and each
    tenant's own."""

    defaults: TenantRegistry | None
    tenants: Mapping[str, TenantRegistry] = field(default_factory=dict)
    circuit_failure_threshold: int = 5
    circuit_reset_seconds: float = 30.0

    def for_tenant(self, tenant: str) -> TenantRegistry | None:
        return self.tenants.get(tenant, self.defaults)


# The settings as read so far: OpenKlantSettings' fields plus the three of TenantRegistry.
_Values = dict[str, Any]


def parse_options(section: Mapping[str, Any], path: str) -> OpenKlantOptions:
    """Validate a section; raises ConfigIssues listing every problem with its path."""
    issues = Issues()
    t = Table(section, path, issues)
    top = _read(t, {})
    threshold = t.integer("circuit_failure_threshold", 5, minimum=1)
    reset = t.duration("circuit_reset_seconds", 30.0)
    tenant_values = tenant_tables(t, lambda sub: (sub.path, _read(sub, top)))
    t.finish()
    # The instance level must be complete unless every tenant table completes it.
    defaults = _build(top, path, issues, report_missing=not tenant_values)
    tenants: dict[str, TenantRegistry] = {}
    for tenant, (where, values) in tenant_values.items():
        built = _build(values, where, issues, report_missing=True)
        if built is not None:
            tenants[tenant] = built
    if issues:
        raise ConfigIssues(issues.items)
    return OpenKlantOptions(defaults, tenants, threshold, reset)


def check_tenants(options: OpenKlantOptions, tenants: Sequence[str], path: str) -> None:
    """Each tenant using the instance needs complete settings; a tenant table naming a
    tenant that does not use the instance is a mistake (its token would go unused)."""
    problems = [
        ConfigIssue(f"{path}.tenants.{tenant}", "no tenant uses this instance under that id")
        for tenant in options.tenants if tenant not in tenants
    ]
    problems += [
        ConfigIssue(path, f"tenant {tenant!r} uses this instance but has no complete "
                          "settings: give base_url, token and task_actor at the instance "
                          f"level or in [{path}.tenants.{tenant}]")
        for tenant in tenants if options.for_tenant(tenant) is None
    ]
    if problems:
        raise ConfigIssues(problems)


def _read(t: Table, base: _Values) -> _Values:
    """The settings of one table over `base` (the instance's, for a tenant table)."""
    values = dict(base)
    for key in ("base_url", "token", "task_actor", "daemon_actor", "default_kanaal",
                "default_taal", "callback_subject", "contact_subject", "marker_register",
                "medewerker_register"):
        value = t.optional_string(key)
        if value is not None and _valid(t, key, value):
            values[key] = value
    for key in ("register_callbacks", "register_contacts"):
        values[key] = t.boolean(key, base.get(key, True))
    timeout = t.duration("timeout_seconds", base.get("timeout_seconds", 10.0))
    if timeout > MAX_TIMEOUT_SECONDS:
        t.issues.add(t.at("timeout_seconds"), f"must be at most {MAX_TIMEOUT_SECONDS:g} seconds")
    else:
        values["timeout_seconds"] = timeout
    kanalen = _string_table(t, "kanalen")
    if kanalen is not None:
        # A tenant's table adds to or changes the instance's mapping, key by key.
        values["kanalen"] = {**base.get("kanalen", wire.DEFAULT_KANALEN), **kanalen}
    languages = _string_table(t, "languages")
    if languages is not None:
        values["languages"] = {**base.get("languages", {}), **languages}
    actions = _string_table(t, "callback_actions")
    if actions is not None:
        for key in actions:
            if key not in _ADDRESS_KEYS:
                t.issues.add(f"{t.at('callback_actions')}.{key}",
                             "unknown kind of address (expected phone or email)")
        chosen = {_ADDRESS_KEYS[k]: v for k, v in actions.items() if k in _ADDRESS_KEYS}
        values["callback_actions"] = {**base.get("callback_actions", DEFAULT_ACTIONS), **chosen}
    return values


def _valid(t: Table, key: str, value: str) -> bool:
    """Checks what OpenKlantSettings would refuse, here, so that each mistake is reported
    at its own key even when the table is incomplete."""
    if key == "base_url":
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query \
                or not parts.path.rstrip("/").endswith(wire.API_PATH):
            t.issues.add(t.at(key), f"expected an http(s) URL ending in {wire.API_PATH}")
            return False
    elif key in ("task_actor", "daemon_actor") and not _UUID.match(value):
        t.issues.add(t.at(key), "expected the actor's uuid (see Open Klant's admin)")
        return False
    return True


def _string_table(t: Table, key: str) -> dict[str, str] | None:
    raw = t.raw_table(key)
    if raw is None:
        return None
    out: dict[str, str] = {}
    for name, value in raw.items():
        if not isinstance(value, str) or not value.strip():
            t.issues.add(f"{t.at(key)}.{name}", "expected a non-empty string")
        else:
            out[str(name)] = value
    return out


_REQUIRED = {
    "base_url": "the Klantinteracties API, ending in /klantinteracties/api/v1",
    "token": 'the API token, as "${OPENKLANT_TOKEN}"',
    "task_actor": "the uuid of the actor callback tasks are assigned to",
}
_REGISTRY_KEYS = ("register_callbacks", "register_contacts", "contact_subject")


def _build(values: _Values, path: str, issues: Issues, *,
           report_missing: bool) -> TenantRegistry | None:
    missing = [key for key in _REQUIRED if key not in values]
    if missing:
        if report_missing:
            for key in missing:
                issues.add(f"{path}.{key}", f"required: {_REQUIRED[key]}")
        return None
    settings_values = {k: v for k, v in values.items() if k not in _REGISTRY_KEYS}
    try:
        settings = OpenKlantSettings(**settings_values)
    except (ValueError, wire.WireError) as exc:
        # The messages start with the setting's name and never hold its value (the token
        # among them).
        message = str(exc)
        key = message.split(" ", 1)[0]
        issues.add(f"{path}.{key}" if key in values else path, message)
        return None
    return TenantRegistry(
        settings,
        register_callbacks=values.get("register_callbacks", True),
        register_contacts=values.get("register_contacts", True),
        contact_subject=values.get("contact_subject", DEFAULT_CONTACT_SUBJECT),
    )
