"""The WhatsApp channel's `[adapters.<name>]` options and their validation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from handover.sdk.contracts import ConfigIssue, ConfigIssues
from handover.sdk.options import Issues, Table, join, tenant_tables

DEFAULT_GRAPH_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v21.0"
_VERSION = re.compile(r"^v\d{1,3}\.\d$")
_PHONE_NUMBER_ID = re.compile(r"^\d{5,20}$")
_TEMPLATE_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")


@dataclass(frozen=True, slots=True)
class TenantNumber:
    """One tenant's WhatsApp business number and its approved reply template."""

    #: Meta's id of the business phone number (not the number itself).
    phone_number_id: str
    #: The approved template that carries an agent's reply once the 24-hour window
    #: has closed, and its language code as approved ("nl", "en_US").
    template_name: str
    template_language: str
    #: Whether the template has one body parameter ({{1}}) that receives the reply text.
    template_text_parameter: bool = True


@dataclass(frozen=True, slots=True)
class WhatsAppOptions:
    access_token: str
    #: The app secret(s) the webhook is signed with: the current one and, during a
    #: rotation, the previous one.
    app_secrets: tuple[str, ...]
    verify_token: str
    #: The absolute URL where this instance's routes are reachable for the desk: media
    #: links handed to agents start with it.
    public_url: str
    media_dir: Path
    tenants: Mapping[str, TenantNumber] = field(default_factory=dict)
    graph_url: str = DEFAULT_GRAPH_URL
    api_version: str = DEFAULT_API_VERSION
    #: No longer used (the send log is adapter state in the daemon's store); accepted
    #: so that older configuration files still load.
    state_path: Path | None = None
    request_timeout_seconds: float = 10.0
    #: How long a send whose answer was lost waits for a status webhook.
    reconcile_seconds: float = 120.0
    #: What a send does when no status came within `reconcile_seconds`: "tell_agent"
    #: (never sent again; an agent's message tells the agent) or "resend" (sent again:
    #: a second copy when Meta took it but never reported it).
    unconfirmed: str = "tell_agent"
    #: How long a downloaded medium stays reachable for the desk.
    media_ttl_seconds: float = 7 * 86400.0
    #: A citizen waiting in the queue is told what happens next this long before the
    #: 24-hour window closes.
    window_warning_seconds: float = 2 * 3600.0
    #: How often the queue is checked against the window.
    window_check_seconds: float = 60.0
    #: Mark inbound messages read (blue ticks) once they are stored.
    mark_read: bool = True

    @property
    def numbers(self) -> dict[str, str]:
        """phone_number_id -> tenant."""
        return {t.phone_number_id: tenant for tenant, t in self.tenants.items()}

    def numbers_by_tenant(self, tenant: str) -> str:
        """The phone number id a tenant sends from."""
        return self.tenants[tenant].phone_number_id


def parse_options(section: Mapping[str, Any], path: str) -> WhatsAppOptions:
    """Validate a section; raises ConfigIssues listing every problem with its path."""
    issues = Issues()
    t = Table(section, path, issues)
    graph_url = t.string("graph_url", DEFAULT_GRAPH_URL).rstrip("/")
    parts = urlsplit(graph_url)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.query:
        issues.add(t.at("graph_url"), "expected an http(s) URL without query string")
    version = t.string("api_version", DEFAULT_API_VERSION)
    if not _VERSION.match(version):
        issues.add(t.at("api_version"), 'expected a Graph API version such as "v21.0"')
    token = t.required_string("access_token", 'the system user token, as "${WHATSAPP_TOKEN}"')
    secrets = t.strings("app_secret", allow_single=True)
    if not t.has("app_secret"):
        issues.add(t.at("app_secret"), 'required: the app secret, as "${WHATSAPP_APP_SECRET}" '
                   "(or a list of two during a rotation)")
    elif not secrets or len(secrets) > 2:
        issues.add(t.at("app_secret"), "give one secret, or two during a rotation")
    verify = t.required_string("verify_token", 'as "${WHATSAPP_VERIFY_TOKEN}"')
    public_url = t.required_string("public_url", "where the desk reaches this instance's "
                                   'routes, e.g. "https://handover.example.nl/whatsapp"')
    if public_url is not None:
        p = urlsplit(public_url)
        if p.scheme not in ("https", "http") or not p.netloc or p.query or p.fragment:
            issues.add(t.at("public_url"), "expected an absolute http(s) URL")
    media_dir = t.required_string("media_dir", "a directory for downloaded media")
    state_path = t.optional_string("state_path")
    tenants = tenant_tables(t, _tenant, required="`phone_number_id` and the reply "
                            "template for each tenant")
    seen: dict[str, str] = {}
    for tenant_id, number in tenants.items():
        if number.phone_number_id in seen:
            issues.add(join(join(t.at("tenants"), tenant_id), "phone_number_id"),
                       f"already used by tenant {seen[number.phone_number_id]!r}")
        seen.setdefault(number.phone_number_id, tenant_id)
    options = WhatsAppOptions(
        access_token=token or "",
        app_secrets=secrets,
        verify_token=verify or "",
        public_url=(public_url or "").rstrip("/"),
        media_dir=Path(media_dir or "."),
        tenants=tenants,
        graph_url=graph_url,
        api_version=version,
        state_path=Path(state_path) if state_path else None,
        request_timeout_seconds=t.duration("request_timeout_seconds", 10.0),
        reconcile_seconds=t.duration("reconcile_seconds", 120.0),
        unconfirmed=t.choice("unconfirmed", "tell_agent", ("tell_agent", "resend")),
        media_ttl_seconds=t.duration("media_ttl_seconds", 7 * 86400.0),
        window_warning_seconds=t.duration("window_warning_seconds", 2 * 3600.0,
                                          allow_zero=True),
        window_check_seconds=t.duration("window_check_seconds", 60.0),
        mark_read=t.boolean("mark_read", True),
    )
    t.finish()
    if issues:
        raise ConfigIssues(issues.items)
    return options


def _tenant(t: Table) -> TenantNumber:
    number = t.required_string("phone_number_id", "Meta's id of the business number")
    if number is not None and not _PHONE_NUMBER_ID.match(number):
        t.issues.add(t.at("phone_number_id"), "expected Meta's numeric phone number id "
                     "(not the phone number)")
    name = t.required_string("template_name", "the approved template for late agent replies")
    if name is not None and not _TEMPLATE_NAME.match(name):
        t.issues.add(t.at("template_name"), "template names are lowercase letters, digits, _")
    language = t.required_string("template_language", 'the template\'s language code, e.g. "nl"')
    if language is not None and not _LANGUAGE.match(language):
        t.issues.add(t.at("template_language"), 'expected a code such as "nl" or "en_US"')
    with_text = t.boolean("template_text_parameter", True)
    return TenantNumber(number or "", name or "", language or "", with_text)


def check_tenants(options: WhatsAppOptions, tenants: list[str] | tuple[str, ...],
                  path: str) -> None:
    """Every tenant using the instance needs its number; no number for a stranger."""
    at = join(path, "tenants")
    problems = [ConfigIssue(join(at, t), "required: this tenant uses the instance")
                for t in tenants if t not in options.tenants]
    problems += [ConfigIssue(join(at, t), "this tenant does not use the instance")
                 for t in options.tenants if t not in tenants]
    if problems:
        raise ConfigIssues(problems)
