"""The daemon's configuration: one TOML file, validated completely before anything runs.

`load_config` reads the file, `parse_config` turns an already parsed document into a
frozen `Config` (the built-in demo configuration uses it directly). Both raise one
`ConfigIssues` holding *every* problem found, each with its dotted path in the file
(`tenants.utrecht.handover.queue_timeout_seconds`, `adapters.web.origin[0]`), so that
`handover check-config FILE` can show an operator all mistakes at once.

The passes, in order:

1. `handover.config.secrets` resolves `${ENV}` references and `*_file` keys over the
   whole document, refusing literal secrets and "<...>" placeholders from the example.
2. The core sections are read with `handover.sdk.options.Table` (types, ranges,
   durations, unknown keys with a did-you-mean).
3. Each `[adapters.<name>]` section goes to its adapter class's own `parse_config`.
4. Each tenant is checked against the adapter instances it names; its opening hours
   and texts go to `OpeningHours.from_config` and `Catalogue.from_config`.

See config/example.toml for every key with its meaning.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, get_args
from urllib.parse import urlsplit

from handover.config.model import (
    DEFAULT_MAX_AGE_SECONDS,
    ID_PATTERN,
    AdapterInstance,
    AdapterLookup,
    BotFailure,
    CallbackPolicy,
    Config,
    DeliveryConfig,
    Engine,
    HandoverPolicy,
    LogFormat,
    LoggingConfig,
    LogLevel,
    MigrateMode,
    QueueFallback,
    RegistrationPolicy,
    RetentionPolicy,
    ServerConfig,
    StoreConfig,
    SurveyPolicy,
    TenantConfig,
)
from handover.config.secrets import resolve_references
from handover.config.tenants import parse_adapters, parse_tenants
from handover.daemon import registry
from handover.http.forwarded import Network, parse_networks
from handover.sdk.contracts import ConfigIssue, ConfigIssues
from handover.sdk.options import Issues, Table, index, join, sort_in_file_order

__all__ = [
    "DEFAULT_MAX_AGE_SECONDS",
    "ID_PATTERN",
    "AdapterInstance",
    "AdapterLookup",
    "BotFailure",
    "CallbackPolicy",
    "Config",
    "DeliveryConfig",
    "Engine",
    "HandoverPolicy",
    "LogFormat",
    "LogLevel",
    "LoggingConfig",
    "QueueFallback",
    "RegistrationPolicy",
    "RetentionPolicy",
    "ServerConfig",
    "StoreConfig",
    "SurveyPolicy",
    "TenantConfig",
    "check_config",
    "load_config",
    "parse_config",
]

# Admin tokens guard erasure and replay: refuse ones that are guessable.
_MIN_ADMIN_TOKEN_LENGTH = 16


# -- entry points ------------------------------------------------------------------------


def load_config(
    path: str | Path,
    *,
    env: Mapping[str, str] | None = None,
    adapter_lookup: AdapterLookup | None = None,
) -> Config:
    """Read and validate a TOML configuration file.

    `env` defaults to os.environ and `adapter_lookup` to the installed adapters
    (`registry.adapter_class`). Raises ConfigIssues with every problem, a TOML syntax
    error included (its path is `FILE:LINE`).
    """
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ConfigIssues([ConfigIssue(str(file), f"cannot read: {exc.strerror or exc}")]) from exc
    try:
        # utf-8-sig: tolerate the byte order mark some Windows editors write.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigIssues([ConfigIssue(f"{file}:{line}", "not UTF-8 text")]) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigIssues([_syntax_issue(file, text, exc)]) from exc
    source = file.resolve()
    return parse_config(
        data,
        base_dir=source.parent,
        env=os.environ if env is None else env,
        adapter_lookup=adapter_lookup,
        source=source,
    )


def check_config(
    path: str | Path,
    *,
    env: Mapping[str, str] | None = None,
    adapter_lookup: AdapterLookup | None = None,
) -> list[str]:
    """The problems of a configuration file as "path: message" lines; empty when fine.

    For `handover check-config FILE`, which prints them and exits non-zero if any.
    """
    try:
        load_config(path, env=env, adapter_lookup=adapter_lookup)
    except ConfigIssues as exc:
        return [str(issue) for issue in exc.issues]
    return []


def config_notes(config: Config) -> list[str]:
    """What an operator should know about a valid configuration, as "path: note" lines
    (printed by `handover check-config`; not problems). With PostgreSQL, the store for
    several instances, an adapter whose options have a `scaleout_note()` says what it
    needs from the load balancer (session affinity, for instance)."""
    if config.store.engine != "postgres":
        return []
    notes: list[str] = []
    for name, instance in config.adapters.items():
        note = getattr(instance.options, "scaleout_note", None)
        text = note() if callable(note) else None
        if text:
            notes.append(f"adapters.{name}: {text}")
    return notes


def _users_of(name: str, tenants_section: Mapping[str, Any] | None) -> list[str]:
    """The tenants whose section names adapter instance `name` as channel, bot, desk or
    registration target.

    Read from the sections as written, not from the tenants that validated: a tenant
    with a mistake elsewhere (a typo in its hours) still uses its adapters, and an
    adapter must not then report "this tenant does not use the instance" on top of
    the real problem."""
    users: list[str] = []
    for tenant_id, section in (tenants_section or {}).items():
        if not isinstance(section, Mapping):
            continue
        channels = section.get("channels")
        named = [section.get("bot"), section.get("desk")]
        if isinstance(channels, list):
            named.extend(channels)
        registries = section.get("registries")
        if isinstance(registries, list):
            named.extend(registries)
        if name in named:
            users.append(str(tenant_id))
    return sorted(users)


def _check_adapter_tenants(
    adapters: Mapping[str, AdapterInstance],
    tenants_section: Mapping[str, Any] | None,
    issues: Issues,
) -> None:
    """Let each adapter instance check its options against the tenants that use it."""
    for name, instance in adapters.items():
        users = _users_of(name, tenants_section)
        try:
            instance.cls.check_tenants(instance.options, users, join("adapters", name))
        except ConfigIssues as exc:
            issues.items.extend(exc.issues)


def parse_config(
    data: Mapping[str, Any],
    *,
    base_dir: Path,
    env: Mapping[str, str],
    adapter_lookup: AdapterLookup | None = None,
    source: Path | None = None,
) -> Config:
    """Validate a parsed TOML document. Relative paths in it (the SQLite file, secret
    files) are resolved against `base_dir`. Raises ConfigIssues with every problem."""
    issues = Issues()
    resolved = resolve_references(data, base_dir=base_dir, env=env, issues=issues)
    root = Table(resolved.data, "", issues, resolved.env_paths)

    server = _server(root.child("server"))
    store = _store(root.child("store"), base_dir)
    delivery = _delivery(root.child("delivery"))
    logging_ = _logging(root.child("logging"))
    adapters_section = root.raw_table("adapters") or {}
    adapters = parse_adapters(
        adapters_section, issues, adapter_lookup or registry.adapter_class
    )
    tenants_section = root.raw_table("tenants")
    tenants = parse_tenants(tenants_section, root, adapters, set(adapters_section))
    _check_adapter_tenants(adapters, tenants_section, issues)
    root.finish()

    if issues:
        raise ConfigIssues(sort_in_file_order(issues.items, data))
    return Config(
        server=server,
        store=store,
        delivery=delivery,
        logging=logging_,
        adapters=MappingProxyType(adapters),
        tenants=MappingProxyType(tenants),
        source=source,
    )


# -- core sections -----------------------------------------------------------------------


def _server(t: Table) -> ServerConfig:
    defaults = ServerConfig()
    host = t.string("host", defaults.host)
    port = t.integer("port", defaults.port, minimum=0, maximum=65535)
    public_url = t.optional_string("public_url")
    if public_url is not None:
        parts = urlsplit(public_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            t.issues.add(t.at("public_url"), "expected an http:// or https:// URL")
            public_url = None
        else:
            # Others append paths to it ("/web/widget.js"); one form avoids "//".
            public_url = public_url.rstrip("/")
    tokens = t.strings("admin_tokens", allow_single=True)
    for i, token in enumerate(tokens):
        if len(token) < _MIN_ADMIN_TOKEN_LENGTH:
            # Never echo the token; its length is harmless.
            t.issues.add(
                index(t.at("admin_tokens"), i),
                f"too short ({len(token)} characters): use at least "
                f"{_MIN_ADMIN_TOKEN_LENGTH} random characters",
            )
    max_body = t.integer("max_body_bytes", defaults.max_body_bytes, minimum=1024)
    drain = t.duration("drain_seconds", defaults.drain_seconds, allow_zero=True)
    proxies: tuple[Network, ...] = ()
    try:
        proxies = parse_networks(t.strings("trusted_proxies"))
    except ValueError as exc:
        t.issues.add(t.at("trusted_proxies"), str(exc))
    t.finish()
    return ServerConfig(host, port, public_url, tokens, max_body, drain, proxies)


def _store(t: Table, base_dir: Path) -> StoreConfig:
    defaults = StoreConfig()
    engine = t.choice("engine", defaults.engine, get_args(Engine))
    path = t.string("path", defaults.path)
    dsn = t.optional_string("dsn")
    if engine == "postgres":
        if dsn is None and not t.has("dsn"):
            t.issues.add(
                t.at("dsn"),
                'required when engine = "postgres": dsn = "${HANDOVER_DATABASE_DSN}" or '
                "dsn_file",
            )
        elif dsn is not None and urlsplit(dsn).scheme not in ("postgres", "postgresql"):
            # The value carries a password: describe the problem, never show it.
            t.issues.add(t.at("dsn"), "expected a postgresql:// connection URL")
    migrate = t.choice("migrate", defaults.migrate, get_args(MigrateMode))
    max_conversations = t.integer("max_conversations", defaults.max_conversations, minimum=0)
    min_free_bytes = t.integer("min_free_bytes", defaults.min_free_bytes, minimum=0)
    if path != ":memory:":
        file = Path(path).expanduser()
        path = str(file if file.is_absolute() else base_dir / file)
    t.finish()
    return StoreConfig(engine, path, dsn, migrate, max_conversations, min_free_bytes)


def _delivery(t: Table) -> DeliveryConfig:
    defaults = DeliveryConfig()
    concurrency = t.integer("concurrency", defaults.concurrency, minimum=1)
    lease = t.duration("lease_seconds", defaults.lease_seconds)
    poll = t.duration("poll_seconds", defaults.poll_seconds)
    base = t.duration("backoff_base_seconds", defaults.backoff_base_seconds)
    cap = t.duration("backoff_cap_seconds", defaults.backoff_cap_seconds)
    if cap < base:
        t.issues.add(t.at("backoff_cap_seconds"), "must not be shorter than backoff_base_seconds")
    max_age = dict(DEFAULT_MAX_AGE_SECONDS)
    ages = t.child("max_age_seconds")
    for kind in ages.data:
        if kind in DEFAULT_MAX_AGE_SECONDS:
            max_age[kind] = ages.duration(kind, DEFAULT_MAX_AGE_SECONDS[kind])
    # Reports the kinds that are not outbox kinds, with a did-you-mean among the real ones.
    ages.known.extend(DEFAULT_MAX_AGE_SECONDS)
    ages.finish()
    notice = t.duration("desk_delay_notice_seconds", defaults.desk_delay_notice_seconds)
    t.finish()
    return DeliveryConfig(
        concurrency, lease, poll, base, cap, MappingProxyType(max_age), notice
    )


def _logging(t: Table) -> LoggingConfig:
    defaults = LoggingConfig()
    level = t.choice("level", defaults.level, get_args(LogLevel))
    format_ = t.choice("format", defaults.format, get_args(LogFormat))
    t.finish()
    return LoggingConfig(level, format_)


# -- reporting ---------------------------------------------------------------------------


_SYNTAX_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def _syntax_issue(file: Path, text: str, exc: tomllib.TOMLDecodeError) -> ConfigIssue:
    """`FILE:LINE: TOML syntax error: ...` from tomllib's message.

    Python 3.11's TOMLDecodeError has no line attribute; the position is only in the
    message, as "(at line L, column C)" or "(at end of document)".
    """
    message = str(exc)
    match = _SYNTAX_POSITION.search(message)
    if match:
        line = int(match.group(1))
        message = f"{message[: match.start()]} (column {match.group(2)})"
    else:
        line = text.count("\n") + 1
        message = message.replace(" (at end of document)", " at the end of the file")
    return ConfigIssue(f"{file}:{line}", f"TOML syntax error: {message}")
