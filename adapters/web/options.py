"""The web channel's configuration: socket limits, and per tenant the Origin allowlist,
rate limits and what the widget shows (texts, theme, features)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from adapters.web.texts import WIDGET_LANGUAGES, WIDGET_TEXTS
from handover.sdk.contracts import ConfigIssues
from handover.sdk.options import Issues, Table, tenant_tables
from handover.sdk.origins import read_origins

DEFAULT_MAX_FRAME_BYTES = 8 * 1024
DEFAULT_MAX_TEXT_LENGTH = 2000
_THEME_CLASS = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,99}$")


@dataclass(frozen=True, slots=True)
class Features:
    """What the widget offers; a tenant may switch parts off."""

    request_agent: bool = True
    typing: bool = True
    page_context: bool = True


@dataclass(frozen=True, slots=True)
class TenantOptions:
    """One tenant's settings for this channel."""

    #: Exact `scheme://host[:port]` values a page embedding the widget may have.
    origins: frozenset[str]
    #: New sockets per client address per minute.
    connections_per_minute: int = 20
    #: Frames (of any type) per client address per minute; over it the socket closes.
    frames_per_minute: int = 240
    #: Messages and actions per conversation per minute; over it they are refused.
    messages_per_minute: int = 20
    #: A CSS class put on the widget's root, matching the tenant's token stylesheet.
    theme_class: str = "handover-theme-default"
    #: The tenant's design-token stylesheet, loaded by the widget when the page has not.
    theme_stylesheet: str | None = None
    #: Overrides the page's language (else `<html lang>` picks nl or en).
    language: str | None = None
    features: Features = field(default_factory=Features)
    texts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def widget_config(self, tenant: str, max_text_length: int) -> dict[str, Any]:
        """What `GET /config/{tenant}` serves to the widget."""
        return {
            "tenant": tenant,
            "max_text_length": max_text_length,
            "language": self.language,
            "theme_class": self.theme_class,
            "theme_stylesheet": self.theme_stylesheet,
            "features": {
                "request_agent": self.features.request_agent,
                "typing": self.features.typing,
                "page_context": self.features.page_context,
            },
            "texts": {
                lang: {**WIDGET_TEXTS[lang], **self.texts.get(lang, {})}
                for lang in WIDGET_LANGUAGES
            },
        }


@dataclass(frozen=True, slots=True)
class WebOptions:
    """The `[adapters.<name>]` section of a web channel."""

    tenants: Mapping[str, TenantOptions] = field(default_factory=dict)
    #: The largest websocket frame accepted, in bytes (larger: close 1009).
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    #: The longest citizen text accepted, in characters.
    max_text_length: int = DEFAULT_MAX_TEXT_LENGTH
    #: How long a new socket may take to send its `hello`.
    hello_timeout_seconds: float = 10.0
    #: Websocket ping interval; a peer that does not answer is dropped.
    heartbeat_seconds: float = 30.0
    #: A socket that closed while its page was hidden (tab closed, app switched away)
    #: and is not resumed within this time counts as the citizen having left: a waiting
    #: or served citizen's thread ends at the desk (`CitizenLeft`). 0 switches it off.
    leave_grace_seconds: float = 60.0
    #: Open widget sockets per client address on this instance (over it: HTTP 429).
    #: A household or office behind one address has a few tabs open; a script opening
    #: thousands must not exhaust the daemon's memory.
    sockets_per_address: int = 20


def parse_options(section: Mapping[str, Any], path: str) -> WebOptions:
    issues = Issues()
    table = Table(section, path, issues)
    max_frame = table.integer("max_frame_bytes", DEFAULT_MAX_FRAME_BYTES, minimum=512,
                              maximum=1024 * 1024)
    max_text = table.integer("max_text_length", DEFAULT_MAX_TEXT_LENGTH, minimum=1,
                             maximum=max_frame)
    hello = table.duration("hello_timeout_seconds", 10.0)
    heartbeat = table.duration("heartbeat_seconds", 30.0)
    grace = table.duration("leave_grace_seconds", 60.0, allow_zero=True)
    per_address = table.integer("sockets_per_address", 20, minimum=1, maximum=10_000)
    tenants = tenant_tables(
        table, _tenant, required="`origins` for each tenant that embeds the widget"
    )
    table.finish()
    if issues:
        raise ConfigIssues(issues.items)
    return WebOptions(tenants=tenants, max_frame_bytes=max_frame, max_text_length=max_text,
                      hello_timeout_seconds=hello, heartbeat_seconds=heartbeat,
                      leave_grace_seconds=grace,
                      sockets_per_address=per_address)


def _tenant(t: Table) -> TenantOptions:
    theme = t.string("theme_class", "handover-theme-default")
    if not _THEME_CLASS.match(theme):
        t.issues.add(t.at("theme_class"), "must be a CSS class name (letters, digits, - and _)")
    stylesheet = t.optional_string("theme_stylesheet")
    if stylesheet is not None and urlsplit(stylesheet).scheme not in ("https", "http"):
        t.issues.add(t.at("theme_stylesheet"), "must be an http(s) URL")
    language = t.optional_string("language")
    if language is not None and language not in WIDGET_LANGUAGES:
        t.issues.add(t.at("language"), f"must be one of: {', '.join(WIDGET_LANGUAGES)}")
    f = t.child("features")
    features = Features(
        request_agent=f.boolean("request_agent", True),
        typing=f.boolean("typing", True),
        page_context=f.boolean("page_context", True),
    )
    f.finish()
    texts: dict[str, dict[str, str]] = {}
    tx = t.child("texts")
    for lang in WIDGET_LANGUAGES:
        lt = tx.child(lang)
        texts[lang] = {k: v for k in WIDGET_TEXTS[lang] if (v := lt.optional_string(k))}
        lt.finish()
    tx.finish()
    options = TenantOptions(
        origins=read_origins(t),
        connections_per_minute=t.integer("connections_per_minute", 20, minimum=1),
        frames_per_minute=t.integer("frames_per_minute", 240, minimum=1),
        messages_per_minute=t.integer("messages_per_minute", 20, minimum=1),
        theme_class=theme,
        theme_stylesheet=stylesheet,
        language=language,
        features=features,
        texts=texts,
    )
    return options
