"""The OBI4wan adapter's `[adapters.<name>]` options and their validation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from handover.sdk.contracts import ConfigIssues
from handover.sdk.options import Issues, Table


@dataclass(frozen=True, slots=True)
class Obi4wanOptions:
    """One OBI4wan custom channel (one tenant) and how the adapter treats it."""

    api_url: str
    channel_identifier: str
    channel_token: str
    chat_guid: str
    #: The current webhook secret and, during a rotation, the previous one.
    webhook_secrets: tuple[str, ...]
    webhook_tolerance_seconds: float = 300.0
    request_timeout_seconds: float = 10.0
    availability_cache_seconds: float = 10.0
    #: How often queued citizens get fresh queue figures; 0 turns it off.
    queue_poll_seconds: float = 30.0
    circuit_failure_threshold: int = 5
    circuit_reset_seconds: float = 30.0
    #: Sender names the agent sees on what the daemon posts.
    citizen_name: str = "Inwoner"
    system_name: str = "Gem"
    #: Post callback requests (contactverzoeken) to the agents, each as a note in a thread
    #: of its own (callback.py), when the tenant names this desk as a registration target.
    callback_note: bool = False


def parse_options(section: Mapping[str, Any], path: str) -> Obi4wanOptions:
    """Validate a section; raises ConfigIssues listing every problem with its path."""
    issues = Issues()
    t = Table(section, path, issues)
    api_url = t.required_string("api_url", 'the OBI4wan API base URL, e.g. "https://api..."')
    if api_url is not None:
        parts = urlsplit(api_url)
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.query:
            issues.add(t.at("api_url"), "expected an http(s) URL without query string")
    channel = t.required_string("channel_identifier", "the custom channel's uuid")
    token = t.required_string("channel_token", 'the channel token, as "${OBI4WAN_TOKEN}"')
    guid = t.required_string("chat_guid", "the chat's guid for the availability check")
    secrets = t.strings("webhook_secret", allow_single=True)
    if not t.has("webhook_secret"):
        issues.add(t.at("webhook_secret"), 'required: the webhook signing secret, as '
                                           '"${OBI4WAN_WEBHOOK_SECRET}" (or a list of two)')
    elif not secrets:
        issues.add(t.at("webhook_secret"), "give one secret, or two during a rotation")
    elif len(secrets) > 2:
        issues.add(t.at("webhook_secret"), "at most two secrets (the new and the old one)")
    options = Obi4wanOptions(
        api_url=api_url or "",
        channel_identifier=channel or "",
        channel_token=token or "",
        chat_guid=guid or "",
        webhook_secrets=secrets,
        webhook_tolerance_seconds=t.duration("webhook_tolerance_seconds", 300.0),
        request_timeout_seconds=t.duration("request_timeout_seconds", 10.0),
        availability_cache_seconds=t.duration(
            "availability_cache_seconds", 10.0, allow_zero=True),
        queue_poll_seconds=t.duration("queue_poll_seconds", 30.0, allow_zero=True),
        circuit_failure_threshold=t.integer("circuit_failure_threshold", 5, minimum=1),
        circuit_reset_seconds=t.duration("circuit_reset_seconds", 30.0),
        citizen_name=t.string("citizen_name", "Inwoner"),
        system_name=t.string("system_name", "Gem"),
        callback_note=t.boolean("callback_note", False),
    )
    t.finish()
    if issues:
        raise ConfigIssues(issues.items)
    return options
