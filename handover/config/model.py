"""The configuration's data model: frozen dataclasses, built by `handover.config.load`.

Kept apart from the parsing so the rest of the core can import the types cheaply and
without cycles; import them from `handover.config.load`, which re-exports everything here.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from handover.config.hours import OpeningHours
from handover.http.forwarded import Network
from handover.sdk.contracts import Adapter, AdapterKind
from handover.texts.catalogue import Catalogue

Engine = Literal["sqlite", "postgres"]
LogLevel = Literal["debug", "info", "warning", "error"]
LogFormat = Literal["json", "console"]
QueueFallback = Literal["phone", "message", "bot"]
Consent = Literal["none", "bot", "daemon"]
MigrateMode = Literal["auto", "manual"]
BotFailure = Literal["escalate", "apologise"]

#: Finds the adapter class for a `type = "..."` value; raises KeyError (ideally
#: registry.UnknownAdapter, whose message lists what is installed) when there is none.
AdapterLookup = Callable[[str], type[Adapter]]

#: Tenant ids and adapter instance names end up in URLs, metric labels and table rows.
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")

#: How long an outbox item of each kind may wait for delivery before it is dead-lettered
#: instead: a bot reply or availability check minutes late is worse than a visible
#: "could not deliver", while a citizen's message to an agent is worth a day of retries.
DEFAULT_MAX_AGE_SECONDS: Mapping[str, float] = MappingProxyType({
    "citizen.message": 86400.0,
    "citizen.state": 3600.0,
    "bot.turn": 120.0,
    "bot.handback": 3600.0,
    "desk.check": 120.0,
    "desk.open": 3600.0,
    "desk.message": 86400.0,
    "desk.note": 86400.0,
    "desk.close": 86400.0,
    # A registration is worth a week of retries (an outage of the KCC's system over a
    # weekend): the citizen was promised a callback.
    "registry.callback": 604800.0,
    "registry.contact": 604800.0,
})

DEFAULT_LANGUAGE = "nl"
DEFAULT_LANGUAGES = ("nl", "en")


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """The HTTP listener (widget, webhooks, /metrics, /healthz, /admin)."""

    host: str = "127.0.0.1"
    port: int = 8080
    #: The externally visible base URL (no trailing slash), for links and webhooks.
    public_url: str | None = None
    #: Bearer tokens for /admin: the current one and, while rotating, the previous one.
    #: Empty: the admin API is disabled.
    admin_tokens: tuple[str, ...] = ()
    max_body_bytes: int = 65536
    drain_seconds: float = 10.0
    #: Reverse proxies / load balancers whose X-Forwarded-For names the client.
    trusted_proxies: tuple[Network, ...] = ()

    def __repr__(self) -> str:
        # Never let a token reach a log line or a traceback through repr().
        return (
            f"ServerConfig(host={self.host!r}, port={self.port}, public_url={self.public_url!r}"
            f", admin_tokens=<{len(self.admin_tokens)} hidden>, "
            f"max_body_bytes={self.max_body_bytes}, drain_seconds={self.drain_seconds}, "
            f"trusted_proxies={[str(n) for n in self.trusted_proxies]})"
        )


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """Where conversations, inbox and outbox live."""

    engine: Engine = "sqlite"
    #: SQLite database file; relative paths are resolved against the config file's dir.
    path: str = "data/handover.db"
    #: PostgreSQL connection string (carries a password, so it comes from a secret).
    dsn: str | None = None
    #: "auto": the daemon applies pending migrations at start. "manual": it refuses to
    #: start until `handover migrate` applied them (PostgreSQL; SQLite always migrates).
    migrate: MigrateMode = "auto"
    #: The storage guard: at this many conversations, new ones are refused (503
    #: storage_full) while existing ones keep working. 0: no ceiling.
    max_conversations: int = 0
    #: The storage guard (SQLite): with less free space than this on the database's
    #: volume, new conversations are refused. 0: not checked.
    min_free_bytes: int = 512 * 1024 * 1024

    def __repr__(self) -> str:
        dsn = None if self.dsn is None else "<hidden>"
        return (
            f"StoreConfig(engine={self.engine!r}, path={self.path!r}, dsn={dsn!r}, "
            f"migrate={self.migrate!r}, max_conversations={self.max_conversations}, "
            f"min_free_bytes={self.min_free_bytes})"
        )


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    """Outbox delivery workers and their retry schedule."""

    concurrency: int = 64
    lease_seconds: float = 30.0
    poll_seconds: float = 1.0
    backoff_base_seconds: float = 0.5
    backoff_cap_seconds: float = 300.0
    #: Per outbox kind (all kinds of DEFAULT_MAX_AGE_SECONDS are always present).
    max_age_seconds: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType(dict(DEFAULT_MAX_AGE_SECONDS))
    )
    #: After this long retrying delivery to the desk, the citizen is told (once per
    #: handover) that their messages are kept and will arrive.
    desk_delay_notice_seconds: float = 60.0


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    level: LogLevel = "info"
    format: LogFormat = "json"


@dataclass(frozen=True, slots=True)
class AdapterInstance:
    """One `[adapters.<name>]` section: which class, and its parsed options."""

    name: str
    type: str
    kind: AdapterKind
    # builtins.type: inside this class body `type` is the field above.
    cls: builtins.type[Adapter]
    #: What `cls.parse_config` returned for the section (without `type`).
    options: Any


@dataclass(frozen=True, slots=True)
class HandoverPolicy:
    """How a tenant hands a conversation from the bot to a person and back."""

    check_availability: bool = True
    queue_timeout_seconds: float = 600
    queue_fallback: QueueFallback = "phone"
    #: Shown to citizens outside hours and after a queue timeout; required for "phone".
    phone: str | None = None
    agent_inactivity_seconds: float = 900
    citizen_inactivity_seconds: float = 600
    bot_failure: BotFailure = "apologise"
    max_bot_escalations: int = 1
    queue_update_seconds: float = 60
    #: Who asks the citizen's consent before a handover: none | bot | daemon.
    consent: Consent = "none"
    consent_timeout_seconds: float = 300


@dataclass(frozen=True, slots=True)
class SurveyPolicy:
    """The satisfaction question (NPS) after an agent closes a chat."""

    enabled: bool = True
    timeout_seconds: float = 300
    ask_comment: bool = True


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long a tenant's conversations are kept, counted from their last activity.

    Bodies (what was written, the context the channel gave, survey comments, names)
    go after `bodies_days`; the metadata the report is made from (the conversation's
    channel, times and state, handover events, survey scores) after `metadata_days`.
    """

    bodies_days: int = 30
    metadata_days: int = 365


#: Where a person cannot be reached now, and a callback request can be offered instead.
CallbackOffer = Literal["outside_hours", "unavailable", "queue_timeout", "desk_failed"]
CALLBACK_OFFERS: tuple[CallbackOffer, ...] = (
    "outside_hours", "unavailable", "queue_timeout", "desk_failed",
)
#: What a registered contact carries as its content.
ContactContent = Literal["none", "topic", "summary"]


@dataclass(frozen=True, slots=True)
class CallbackPolicy:
    """The callback request (contactverzoek) the daemon offers when no person can be
    reached now; it is registered at the tenant's `registries`."""

    enabled: bool = False
    #: The moments it is offered.
    offer_when: tuple[CallbackOffer, ...] = CALLBACK_OFFERS
    #: How long the citizen may take over each step before the request is abandoned.
    step_timeout_seconds: float = 300
    #: Ask the citizen's name (optional for them: they may skip it).
    ask_name: bool = True


@dataclass(frozen=True, slots=True)
class RegistrationPolicy:
    """What a finished contact registers at the targets that take contacts."""

    #: Register every finished human contact (at targets with `registers_contacts`).
    contacts: bool = True
    #: The contact's content: nothing, the topic, or the summary the agent wrote.
    content: ContactContent = "topic"
    #: Send the transcript too (only where the tenant's DPIA allows it).
    transcript: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class TenantConfig:
    """One municipality: its adapters, languages, hours, policies and texts."""

    id: str
    name: str
    #: Adapter instance names of kind CHANNEL.
    channels: tuple[str, ...]
    #: Adapter instance name of kind BOT.
    bot: str
    #: Adapter instance name of kind DESK.
    desk: str
    default_language: str = DEFAULT_LANGUAGE
    languages: tuple[str, ...] = DEFAULT_LANGUAGES
    hours: OpeningHours
    handover: HandoverPolicy
    survey: SurveyPolicy
    catalogue: Catalogue
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    #: Adapter instance names of registration targets (`handover.sdk.registration`).
    registries: tuple[str, ...] = ()
    callback: CallbackPolicy = field(default_factory=CallbackPolicy)
    registration: RegistrationPolicy = field(default_factory=RegistrationPolicy)


@dataclass(frozen=True, slots=True)
class Config:
    """The whole validated configuration."""

    server: ServerConfig
    store: StoreConfig
    delivery: DeliveryConfig
    logging: LoggingConfig
    adapters: Mapping[str, AdapterInstance]
    tenants: Mapping[str, TenantConfig]
    #: The file it was loaded from (None for a configuration built in code).
    source: Path | None = None

    def tenants_using(self, adapter_name: str) -> tuple[str, ...]:
        """The ids of the tenants that use an adapter instance (AdapterContext.tenants)."""
        return tuple(
            tenant.id for tenant in self.tenants.values()
            if adapter_name in (*tenant.channels, tenant.bot, tenant.desk, *tenant.registries)
        )
