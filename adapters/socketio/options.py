"""The socket.io channel's configuration: Rasa's channel settings (event names, path,
namespace, session persistence), the limits, and per tenant the Origin allowlist and
rate limits."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from handover.sdk.contracts import ConfigIssues
from handover.sdk.options import Issues, Table, tenant_tables
from handover.sdk.origins import read_origins

DEFAULT_PATH = "/socket.io/"
TRANSPORTS = ("polling", "websocket")
DEFAULT_MAX_PACKET_BYTES = 16 * 1024
DEFAULT_MAX_TEXT_LENGTH = 2000
_EVENT = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_PATH = re.compile(r"^/([A-Za-z0-9._~-]+/)+$")
_NAMESPACE = re.compile(r"^/([A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*)?$")
#: Paths the daemon serves itself; a socket.io path there would shadow or be shadowed.
_RESERVED = ("/healthz/", "/readyz/", "/metrics/", "/admin/")
#: Events socket.io itself uses: a configured event name must not take one of them.
_SOCKETIO_EVENTS = ("connect", "disconnect", "connect_error", "message",
                    "session_request", "session_confirm")


@dataclass(frozen=True, slots=True)
class TenantOptions:
    """One tenant's settings for this channel."""

    #: Exact `scheme://host[:port]` values a page embedding the widget may have.
    origins: frozenset[str]
    #: New socket.io connections per client address per minute (over it: HTTP 429).
    connections_per_minute: int = 20
    #: Events of any kind per client address per minute; over it the socket is dropped.
    events_per_minute: int = 240
    #: Citizen messages per conversation per minute; over it they are refused.
    messages_per_minute: int = 20


@dataclass(frozen=True, slots=True)
class SocketIOOptions:
    """The `[adapters.<name>]` section of a socket.io channel."""

    tenants: Mapping[str, TenantOptions] = field(default_factory=dict)
    #: The event the widget sends citizen messages with (Rasa: `user_message_evt`).
    user_message_evt: str = "user_uttered"
    #: The event the daemon sends messages with (Rasa: `bot_message_evt`).
    bot_message_evt: str = "bot_uttered"
    #: The socket.io namespace; "/" is socket.io's default.
    namespace: str = "/"
    #: Where the socket.io endpoint is served, from the root of the daemon.
    socketio_path: str = DEFAULT_PATH
    #: True: a `session_id` names the conversation across reconnects and page loads.
    #: False: every connection is a new conversation (Rasa's default).
    session_persistence: bool = True
    #: The largest engine.io packet (or long-poll body) accepted, in bytes.
    max_packet_bytes: int = DEFAULT_MAX_PACKET_BYTES
    #: The longest citizen text accepted, in characters.
    max_text_length: int = DEFAULT_MAX_TEXT_LENGTH
    #: Put the agent's name before an agent's text ("Anna: ..."): the widget shows
    #: every message as the bot's, and the citizen should see a person took over.
    agent_name_prefix: bool = True
    #: Open socket.io connections per client address on this instance (over it: HTTP
    #: 429). A household or office behind one address has a few tabs open; a script
    #: opening thousands must not exhaust the daemon's memory.
    connections_per_address: int = 20
    #: The engine.io transports offered. rasa-webchat starts with long-polling and
    #: upgrades to a websocket; ["websocket"] alone suits widgets configured for it.
    transports: tuple[str, ...] = TRANSPORTS

    def all_origins(self) -> list[str]:
        return sorted({o for t in self.tenants.values() for o in t.origins})

    def scaleout_note(self) -> str | None:
        """What `handover check-config` says for a configuration of several instances
        (PostgreSQL): engine.io long-polling needs every request of a session on one
        instance."""
        if "polling" not in self.transports:
            return None
        return ("socket.io long-polling needs session affinity for the socket.io path "
                f"({self.socketio_path}) at the load balancer (deploy/nginx.conf and "
                "deploy/kubernetes/ingress.yaml configure it), or set "
                'transports = ["websocket"]')


def parse_options(section: Mapping[str, Any], path: str) -> SocketIOOptions:
    issues = Issues()
    table = Table(section, path, issues)
    events = {}
    for key, default in (("user_message_evt", "user_uttered"), ("bot_message_evt", "bot_uttered")):
        value = table.string(key, default)
        if not _EVENT.match(value) or value in _SOCKETIO_EVENTS:
            issues.add(table.at(key), "must be an event name (letters, digits, _ . : -), and "
                       f"not one of {', '.join(_SOCKETIO_EVENTS)}")
        events[key] = value
    if events["user_message_evt"] == events["bot_message_evt"]:
        issues.add(table.at("bot_message_evt"), "must differ from user_message_evt")
    namespace = table.string("namespace", "/")
    if not _NAMESPACE.match(namespace):
        issues.add(table.at("namespace"), "must be a socket.io namespace such as / or /chat")
    sio_path = table.string("socketio_path", DEFAULT_PATH)
    if not sio_path.endswith("/"):
        sio_path += "/"  # Rasa writes "/socket.io"; the client asks "/socket.io/"
    if not _PATH.match(sio_path) or sio_path.startswith(_RESERVED):
        issues.add(table.at("socketio_path"), "must be a path such as /socket.io/, outside "
                   f"{', '.join(_RESERVED)}")
    persistence = table.boolean("session_persistence", True)
    max_packet = table.integer("max_packet_bytes", DEFAULT_MAX_PACKET_BYTES, minimum=1024,
                               maximum=1024 * 1024)
    max_text = table.integer("max_text_length", DEFAULT_MAX_TEXT_LENGTH, minimum=1,
                             maximum=max_packet // 2)
    prefix = table.boolean("agent_name_prefix", True)
    per_address = table.integer("connections_per_address", 20, minimum=1, maximum=10_000)
    transports = table.strings("transports", TRANSPORTS)
    if not transports or any(t not in TRANSPORTS for t in transports):
        issues.add(table.at("transports"), 'must name "polling", "websocket" or both')
    tenants = tenant_tables(
        table, _tenant, required="`origins` for each tenant whose pages embed the widget"
    )
    table.finish()
    if issues:
        raise ConfigIssues(issues.items)
    return SocketIOOptions(
        tenants=tenants, user_message_evt=events["user_message_evt"],
        bot_message_evt=events["bot_message_evt"], namespace=namespace,
        socketio_path=sio_path, session_persistence=persistence, max_packet_bytes=max_packet,
        max_text_length=max_text, agent_name_prefix=prefix,
        connections_per_address=per_address, transports=tuple(dict.fromkeys(transports)),
    )


def _tenant(t: Table) -> TenantOptions:
    options = TenantOptions(
        origins=read_origins(t),
        connections_per_minute=t.integer("connections_per_minute", 20, minimum=1),
        events_per_minute=t.integer("events_per_minute", 240, minimum=1),
        messages_per_minute=t.integer("messages_per_minute", 20, minimum=1),
    )
    return options
