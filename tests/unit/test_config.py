"""The configuration layer: one TOML file, every problem reported with its path.

The adapters here are fakes handed in through `adapter_lookup`, so these tests depend
neither on which adapters are installed nor on their state of development.
"""

from __future__ import annotations

import dataclasses
import re
import textwrap
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from handover.config.load import (
    DEFAULT_MAX_AGE_SECONDS,
    CallbackPolicy,
    Config,
    DeliveryConfig,
    HandoverPolicy,
    LoggingConfig,
    RegistrationPolicy,
    RetentionPolicy,
    ServerConfig,
    StoreConfig,
    SurveyPolicy,
    TenantConfig,
    check_config,
    load_config,
    parse_config,
)
from handover.daemon import registry
from handover.daemon.registry import UnknownAdapter
from handover.sdk.contracts import (
    Adapter,
    AdapterKind,
    BotAdapter,
    ChannelAdapter,
    ConfigIssue,
    ConfigIssues,
    DeskAdapter,
)
from handover.sdk.options import parse_duration

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.toml"
TOKEN = "t0ken-with-enough-characters-1"
OLD_TOKEN = "t0ken-with-enough-characters-0"


# -- fake adapters ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class WebOptions:
    origins: tuple[str, ...]
    api_key: str | None


class FakeChannel(ChannelAdapter):
    """A channel with options: `origin` (https origins) and an optional `api_key`."""

    seen: Mapping[str, Any] | None = None

    @classmethod
    def parse_config(cls, section: Mapping[str, Any], path: str) -> Any:
        FakeChannel.seen = section
        issues = [ConfigIssue(f"{path}.{k}", "unknown key")
                  for k in section if k not in ("origin", "api_key")]
        origins = section.get("origin", [])
        for i, origin in enumerate(origins):
            if not str(origin).startswith("https://"):
                issues.append(ConfigIssue(f"{path}.origin[{i}]", "expected an https:// origin"))
        if issues:
            raise ConfigIssues(issues)
        return WebOptions(tuple(origins), section.get("api_key"))

    async def deliver(self, conversation: Any, message: Any) -> None:
        raise NotImplementedError


class FakeBot(BotAdapter):
    """A bot whose `token` option is required."""

    @classmethod
    def parse_config(cls, section: Mapping[str, Any], path: str) -> Any:
        if "token" not in section:
            raise ConfigIssue(f"{path}.token", "required")
        return {"token": section["token"]}

    async def turn(self, conversation: Any, turn: Any) -> Any:
        raise NotImplementedError


class PlainBot(BotAdapter):
    """A bot without options."""

    async def turn(self, conversation: Any, turn: Any) -> Any:
        raise NotImplementedError


class FakeDesk(DeskAdapter):
    """A desk without options (the contract's default parse_config)."""

    async def open_thread(self, conversation: Any, thread: Any) -> Any:
        raise NotImplementedError

    async def send(self, conversation: Any, thread_id: str, message: Any) -> Any:
        raise NotImplementedError

    async def note(self, conversation: Any, thread_id: str, text: str) -> Any:
        raise NotImplementedError

    async def close_thread(self, conversation: Any, thread_id: str, reason: str) -> None:
        raise NotImplementedError


class CrashingDesk(FakeDesk):
    """A desk whose option parser has a bug."""

    @classmethod
    def parse_config(cls, section: Mapping[str, Any], path: str) -> Any:
        raise RuntimeError("boom")


FAKES: dict[str, type[Adapter]] = {
    "fake_channel": FakeChannel,
    "fake_bot": FakeBot,
    "fake_desk": FakeDesk,
    "crashing_desk": CrashingDesk,
    # The example's types, mapped onto fakes with the right kinds.
    "rest": FakeChannel,
    "demo_bot": PlainBot,
    "demo_desk": FakeDesk,
}


def lookup(type_name: str) -> type[Adapter]:
    if type_name == "broken":
        raise ImportError("No module named 'adapters.broken'")
    try:
        return FAKES[type_name]
    except KeyError:
        raise UnknownAdapter(type_name, FAKES) from None


# -- helpers -------------------------------------------------------------------------------

ENV = {"BOT_TOKEN": "bot-secret-value", "ADMIN": TOKEN, "ADMIN_OLD": OLD_TOKEN}

MINIMAL = """
[adapters.web]
type = "fake_channel"

[adapters.gem]
type = "fake_bot"
token = "${BOT_TOKEN}"

[adapters.kcc]
type = "fake_desk"

[tenants.utrecht]
name = "Gemeente Utrecht"
channels = ["web"]
bot = "gem"
desk = "kcc"

[tenants.utrecht.handover]
phone = "14 030"
"""


def write(tmp_path: Path, text: str, name: str = "handover.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, env: Mapping[str, str] | None = None) -> Config:
    return load_config(write(tmp_path, text), env=ENV if env is None else env,
                       adapter_lookup=lookup)


def issues_of(tmp_path: Path, text: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """path -> message of every issue (asserting there is one issue per path)."""
    with pytest.raises(ConfigIssues) as caught:
        load(tmp_path, text, env)
    found = {issue.path: issue.message for issue in caught.value.issues}
    assert len(found) == len(caught.value.issues), caught.value.issues
    return found


# -- a valid configuration -------------------------------------------------------------------


def test_minimal_config_loads_with_defaults(tmp_path: Path) -> None:
    config = load(tmp_path, MINIMAL)

    assert config.server == ServerConfig()
    assert config.store == StoreConfig(path=str(tmp_path / "data" / "handover.db"))
    assert config.delivery == DeliveryConfig()
    assert dict(config.delivery.max_age_seconds) == dict(DEFAULT_MAX_AGE_SECONDS)
    assert config.logging == LoggingConfig()
    assert config.source == tmp_path / "handover.toml"

    assert {name: (a.type, a.kind, a.cls) for name, a in config.adapters.items()} == {
        "web": ("fake_channel", AdapterKind.CHANNEL, FakeChannel),
        "gem": ("fake_bot", AdapterKind.BOT, FakeBot),
        "kcc": ("fake_desk", AdapterKind.DESK, FakeDesk),
    }
    assert config.adapters["web"].options == WebOptions((), None)
    assert config.adapters["gem"].options == {"token": "bot-secret-value"}
    assert config.adapters["kcc"].options is None

    tenant = config.tenants["utrecht"]
    assert (tenant.id, tenant.name, tenant.channels, tenant.bot, tenant.desk) == (
        "utrecht", "Gemeente Utrecht", ("web",), "gem", "kcc"
    )
    assert (tenant.default_language, tenant.languages) == ("nl", ("nl", "en"))
    assert tenant.handover == HandoverPolicy(phone="14 030")
    assert tenant.survey == SurveyPolicy()
    # No hours section: always open.
    assert tenant.hours.is_open(datetime(2026, 12, 25, 3, 0, tzinfo=UTC))
    assert "wachtrij" in tenant.catalogue.render("queued", "nl", position=2)
    assert config.tenants_using("web") == ("utrecht",)
    assert config.tenants_using("nothing") == ()


def test_configuration_is_immutable(tmp_path: Path) -> None:
    config = load(tmp_path, MINIMAL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.server.port = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.tenants["x"] = config.tenants["utrecht"]  # type: ignore[index]
    with pytest.raises(TypeError):
        config.delivery.max_age_seconds["bot.turn"] = 1  # type: ignore[index]


FULL = MINIMAL.replace('phone = "14 030"\n', "") + """
queue_fallback = "message"
check_availability = false
queue_timeout_seconds = "1h30m"
agent_inactivity_seconds = 300
citizen_inactivity_seconds = "5m"
bot_failure = "escalate"
max_bot_escalations = 2
queue_update_seconds = "30s"

[tenants.utrecht.survey]
enabled = false
timeout_seconds = "2m"
ask_comment = false

[tenants.utrecht.hours]
timezone = "Europe/Amsterdam"
holidays = "NL"
monday = ["08:30-17:00"]

[tenants.utrecht.texts.en]
queued = "Queued! Ahead of you: {position}."

[server]
host = "0.0.0.0"
port = 9000
public_url = "https://chat.example.nl/"
admin_tokens = ["${ADMIN}", "${ADMIN_OLD}"]
max_body_bytes = 131072
drain_seconds = "20s"

[store]
engine = "sqlite"
path = "/var/lib/handover/handover.db"

[delivery]
concurrency = 8
lease_seconds = "1m"
poll_seconds = 0.25
backoff_base_seconds = "250ms"
backoff_cap_seconds = "10m"

[delivery.max_age_seconds]
"bot.turn" = "30s"

[logging]
level = "debug"
format = "console"
"""


def test_every_key_is_read(tmp_path: Path) -> None:
    config = load(tmp_path, FULL)

    assert config.server == ServerConfig(
        host="0.0.0.0", port=9000, public_url="https://chat.example.nl",
        admin_tokens=(TOKEN, OLD_TOKEN), max_body_bytes=131072, drain_seconds=20.0,
    )
    assert config.store == StoreConfig(path="/var/lib/handover/handover.db")
    assert config.delivery == DeliveryConfig(
        concurrency=8, lease_seconds=60.0, poll_seconds=0.25, backoff_base_seconds=0.25,
        backoff_cap_seconds=600.0,
        max_age_seconds={**DEFAULT_MAX_AGE_SECONDS, "bot.turn": 30.0},
    )
    assert config.logging == LoggingConfig(level="debug", format="console")
    tenant = config.tenants["utrecht"]
    assert tenant.handover == HandoverPolicy(
        check_availability=False, queue_timeout_seconds=5400.0, queue_fallback="message",
        phone=None, agent_inactivity_seconds=300.0, citizen_inactivity_seconds=300.0,
        bot_failure="escalate", max_bot_escalations=2, queue_update_seconds=30.0,
    )
    assert tenant.survey == SurveyPolicy(enabled=False, timeout_seconds=120.0, ask_comment=False)
    # Monday 2026-03-02 09:00 in Amsterdam (UTC+1) is open, Tuesday is not.
    assert tenant.hours.is_open(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    assert not tenant.hours.is_open(datetime(2026, 3, 3, 8, 0, tzinfo=UTC))
    assert tenant.catalogue.render("queued", "en", position=3) == "Queued! Ahead of you: 3."


def test_secrets_do_not_show_in_repr(tmp_path: Path) -> None:
    config = load(tmp_path, FULL)
    assert TOKEN not in repr(config.server)
    assert "2 hidden" in repr(config.server)
    store = StoreConfig(engine="postgres", dsn="postgresql://u:pw@db/handover")
    assert "pw" not in repr(store)


def test_parse_config_takes_a_document(tmp_path: Path) -> None:
    """The built-in demo configuration is a dict, not a file."""
    data = {
        "store": {"path": "demo.db"},
        "adapters": {"w": {"type": "fake_channel"}, "b": {"type": "fake_bot", "token": "${T}"},
                     "d": {"type": "fake_desk"}},
        "tenants": {"demo": {"name": "Demo", "channels": ["w"], "bot": "b", "desk": "d",
                             "handover": {"queue_fallback": "bot"}}},
    }
    config = parse_config(data, base_dir=tmp_path, env={"T": "x"}, adapter_lookup=lookup)
    assert config.store.path == str(tmp_path / "demo.db")
    assert config.source is None
    assert config.tenants["demo"].handover.queue_fallback == "bot"


# -- store paths ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("handover.db", "{dir}/handover.db"),
        ("state/h.db", "{dir}/state/h.db"),
        ("/srv/h.db", "/srv/h.db"),
        (":memory:", ":memory:"),
    ],
)
def test_sqlite_path_is_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str, expected: str
) -> None:
    conf_dir = tmp_path / "etc"
    conf_dir.mkdir()
    # Relative to the file, not to the working directory.
    monkeypatch.chdir(tmp_path)
    path = write(conf_dir, MINIMAL + f'\n[store]\npath = "{given}"\n')
    config = load_config(Path("etc") / path.name, env=ENV, adapter_lookup=lookup)
    assert config.store.path == expected.format(dir=conf_dir)


# -- durations ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (90, 90.0), (0.5, 0.5), ("90s", 90.0), ("10m", 600.0), ("1h", 3600.0),
        ("1h30m", 5400.0), ("1h 30m", 5400.0), ("1.5h", 5400.0), ("250ms", 0.25),
        ("1d", 86400.0), ("2m30s", 150.0), (" 5s ", 5.0),
    ],
)
def test_durations(value: Any, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("90", "add a unit"),
        ("10 minutes", 'like "90s"'),
        ("30m1h", "largest first"),
        ("1m1m", "largest first"),
        ("", 'like "90s"'),
        (-5, "negative"),
        (True, "got boolean"),
        ([1], "got array"),
        (float("inf"), "finite"),
    ],
)
def test_bad_durations(value: Any, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        parse_duration(value)


def test_duration_issues_have_their_path(tmp_path: Path) -> None:
    found = issues_of(tmp_path, MINIMAL + """
        queue_timeout_seconds = "ten minutes"
        agent_inactivity_seconds = 0
        [server]
        drain_seconds = 0
        [delivery]
        lease_seconds = "-1s"
        backoff_base_seconds = "10s"
        backoff_cap_seconds = "5s"
    """.replace("\n        ", "\n"))
    assert set(found) == {
        "tenants.utrecht.handover.queue_timeout_seconds",
        "tenants.utrecht.handover.agent_inactivity_seconds",
        "delivery.lease_seconds",
        "delivery.backoff_cap_seconds",
    }  # drain_seconds = 0 is allowed: exit without draining
    assert "must be longer than 0" in found["tenants.utrecht.handover.agent_inactivity_seconds"]
    assert "backoff_base_seconds" in found["delivery.backoff_cap_seconds"]


# -- unknown keys and wrong types ---------------------------------------------------------------


def test_unknown_keys_with_did_you_mean(tmp_path: Path) -> None:
    found = issues_of(tmp_path, MINIMAL + """
queue_timout_seconds = 60
[server]
prot = 8080
[servers]
x = 1
[delivery.max_age_seconds]
"bot.turns" = 5
"""
    )
    assert found == {
        "tenants.utrecht.handover.queue_timout_seconds":
            "unknown key 'queue_timout_seconds'; did you mean 'queue_timeout_seconds'?",
        "server.prot": "unknown key 'prot'; did you mean 'port'?",
        "servers": "unknown key 'servers'; did you mean 'server'?",
        "delivery.max_age_seconds.\"bot.turns\"":
            "unknown key 'bot.turns'; did you mean 'bot.turn'?",
    }


def test_unknown_key_without_close_match_lists_the_known_ones(tmp_path: Path) -> None:
    found = issues_of(tmp_path, MINIMAL + "\n[logging]\nzzz = 1\n")
    assert found == {"logging.zzz": "unknown key 'zzz' (expected one of: format, level)"}


def test_wrong_types(tmp_path: Path) -> None:
    found = issues_of(tmp_path, MINIMAL + """
check_availability = "yes"
max_bot_escalations = 1.5
[server]
port = "8080"
host = 1
max_body_bytes = true
[tenants.utrecht.survey]
timeout_seconds = [1]
[logging]
level = "verbose"
"""
    )
    assert found == {
        "tenants.utrecht.handover.check_availability": "expected boolean, got string",
        "tenants.utrecht.handover.max_bot_escalations": "expected integer, got float",
        "server.port": "expected integer, got string",
        "server.host": "expected string, got integer",
        "server.max_body_bytes": "expected integer, got boolean",
        "tenants.utrecht.survey.timeout_seconds":
            'expected a duration (seconds or a string like "10m"), got array',
        "logging.level": "expected one of 'debug', 'info', 'warning', 'error', got 'verbose'",
    }


def test_ranges_and_formats(tmp_path: Path) -> None:
    found = issues_of(tmp_path, MINIMAL.replace('"14 030"', '"call us"') + """
[server]
port = 70000
public_url = "chat.example.nl"
max_body_bytes = 10
[delivery]
concurrency = 0
"""
    )
    assert set(found) == {
        "tenants.utrecht.handover.phone", "server.port", "server.public_url",
        "server.max_body_bytes", "delivery.concurrency",
    }
    assert found["server.port"] == "must be at most 65535, got 70000"


def test_a_section_of_the_wrong_type(tmp_path: Path) -> None:
    found = issues_of(tmp_path, "server = 1\n" + MINIMAL)
    assert found == {"server": "expected table, got integer"}
    # What is inside a table of the wrong type is not reported missing as well.
    found = issues_of(tmp_path, MINIMAL.replace(
        "[tenants.utrecht.handover]", 'handover = "phone"\n[tenants.utrecht.survey]'
    ).replace('phone = "14 030"', "enabled = false"))
    assert found == {"tenants.utrecht.handover": "expected table, got string"}
    found = issues_of(tmp_path, "tenants = [1]\n")
    assert found == {"tenants": "expected table, got array"}


def test_many_problems_are_reported_at_once_in_file_order(tmp_path: Path) -> None:
    text = """
[server]
port = "x"
admin_tokens = ["literal-token-in-the-file"]

[store]
engine = "mysql"

[adapters.web]
type = "fake_channel"
origin = ["http://insecure.example"]

[adapters.gem]
type = "fake_bot"

[adapters.kcc]
type = "no_such_type"

[tenants.Utrecht]
name = "Gemeente Utrecht"
channels = ["web", "gem"]
bot = "gem"
desk = "kcc"
languages = ["en"]

[tenants.Utrecht.handover]
queue_fallback = "phone"
"""
    with pytest.raises(ConfigIssues) as caught:
        load(tmp_path, text)
    assert [issue.path for issue in caught.value.issues] == [
        "server.port",
        "server.admin_tokens[0]",
        "store.engine",
        "adapters.web.origin[0]",
        "adapters.gem.token",
        "adapters.kcc.type",
        "tenants.Utrecht",
        "tenants.Utrecht.languages",
        "tenants.Utrecht.handover.phone",
    ]
    # The bot failed its own checks and the desk type is unknown: their references are
    # not reported again, and neither is "channels" (the web channel is broken too).
    messages = "\n".join(str(issue) for issue in caught.value.issues)
    assert "tenants.Utrecht.channels" not in messages
    assert "fake_channel" in messages and "demo_bot" in messages  # the installed list


# -- secrets ------------------------------------------------------------------------------


def test_environment_references(tmp_path: Path) -> None:
    config = load(tmp_path, MINIMAL + """
[server]
public_url = "${PUBLIC_URL}"
port = "${PORT}"
admin_tokens = ["${ADMIN}"]
[logging]
level = "${LOG_LEVEL}"
""", env={**ENV, "PUBLIC_URL": "https://chat.example.nl", "PORT": "9090", "LOG_LEVEL": "warning"})
    assert config.server.public_url == "https://chat.example.nl"
    # Environment variables carry text: numbers are converted for core keys.
    assert config.server.port == 9090
    assert config.server.admin_tokens == (TOKEN,)
    assert config.logging.level == "warning"


def test_missing_environment_variables(tmp_path: Path) -> None:
    found = issues_of(tmp_path, MINIMAL.replace('"14 030"', '"${KCC_PHONE}"') + """
[server]
admin_tokens = ["${ADMIN}", "${ADMIN_OLD}"]
port = "${PORT}"
""", env={"BOT_TOKEN": "x", "ADMIN": TOKEN, "ADMIN_OLD": "", "PORT": "eighty"})
    assert found == {
        "tenants.utrecht.handover.phone": "environment variable KCC_PHONE is not set",
        "server.admin_tokens[1]": "environment variable ADMIN_OLD is empty",
        "server.port": "expected integer, got 'eighty'",
    }


def test_missing_secret_is_not_also_reported_as_missing_by_the_adapter(tmp_path: Path) -> None:
    found = issues_of(tmp_path, MINIMAL, env={})
    assert found == {"adapters.gem.token": "environment variable BOT_TOKEN is not set"}


def test_secret_files(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "dsn").write_text("postgresql://u:pw@db/handover\n")
    (tmp_path / "secrets" / "admin").write_text(f"  {TOKEN}\n")
    (tmp_path / "bot-token").write_text("from-a-file\n")
    config = load(tmp_path, MINIMAL.replace('token = "${BOT_TOKEN}"', 'token_file = "bot-token"')
                  + f"""
[server]
admin_tokens_file = "secrets/admin"
[store]
engine = "postgres"
dsn_file = "{tmp_path}/secrets/dsn"
""")
    assert config.store.dsn == "postgresql://u:pw@db/handover"
    assert config.server.admin_tokens == (TOKEN,)
    assert config.adapters["gem"].options == {"token": "from-a-file"}


def test_secret_file_rotation_list(tmp_path: Path) -> None:
    (tmp_path / "new").write_text(TOKEN)
    (tmp_path / "old").write_text(OLD_TOKEN)
    config = load(tmp_path, MINIMAL + '\n[server]\nadmin_tokens_file = ["new", "old"]\n')
    assert config.server.admin_tokens == (TOKEN, OLD_TOKEN)


def test_secret_file_problems(tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("\n")
    found = issues_of(tmp_path, MINIMAL.replace('token = "${BOT_TOKEN}"', 'token_file = "nope"')
                      + """
[server]
admin_tokens = ["${ADMIN}"]
admin_tokens_file = "empty"
[store]
engine = "postgres"
dsn_file = "empty"
""")
    assert found == {
        "adapters.gem.token_file":
            f"cannot read {tmp_path / 'nope'}: No such file or directory",
        "server.admin_tokens_file": "give either admin_tokens or admin_tokens_file, not both",
        "store.dsn_file": f"{tmp_path / 'empty'} is empty",
    }


def test_rotation_allows_two_values(tmp_path: Path) -> None:
    config = load(tmp_path, MINIMAL + '\n[server]\nadmin_tokens = ["${ADMIN}", "${ADMIN_OLD}"]\n')
    assert config.server.admin_tokens == (TOKEN, OLD_TOKEN)
    found = issues_of(
        tmp_path, MINIMAL + '\n[server]\nadmin_tokens = ["${ADMIN}", "${ADMIN_OLD}", "${ADMIN}"]\n'
    )
    assert found == {"server.admin_tokens": "at most 2 values (the current and the previous one, "
                                            "for rotation), got 3"}


def test_literal_secrets_are_refused_everywhere(tmp_path: Path) -> None:
    found = issues_of(tmp_path, MINIMAL.replace('"${BOT_TOKEN}"', '"s3cr3t-in-the-file"') + """
[server]
admin_tokens = ["${ADMIN}", "literal-old-token"]
[store]
engine = "postgres"
dsn = "postgresql://handover:hunter2@db/handover"
""")
    assert found == {
        "adapters.gem.token": "secrets must come from the environment: use ${VAR} or token_file",
        "server.admin_tokens[1]":
            "secrets must come from the environment: use ${VAR} or admin_tokens_file",
        "store.dsn": "secrets must come from the environment: use ${VAR} or dsn_file",
    }
    # The values themselves are never repeated in a message.
    assert not any("s3cr3t" in m or "hunter2" in m or "literal" in m for m in found.values())


def test_literal_secret_in_an_adapter_option_is_refused(tmp_path: Path) -> None:
    text = MINIMAL.replace('type = "fake_channel"', 'type = "fake_channel"\napi_key = "abc"')
    found = issues_of(tmp_path, text)
    assert found == {
        "adapters.web.api_key": "secrets must come from the environment: use ${VAR} or api_key_file"
    }


def test_adapters_get_resolved_sections(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        'type = "fake_channel"',
        'type = "fake_channel"\napi_key = "${WEB_KEY}"\norigin = ["${ORIGIN}", "https://b.nl"]',
    )
    config = load(tmp_path, text, env={**ENV, "WEB_KEY": "k", "ORIGIN": "https://a.nl"})
    assert config.adapters["web"].options == WebOptions(("https://a.nl", "https://b.nl"), "k")
    assert FakeChannel.seen == {"api_key": "k", "origin": ["https://a.nl", "https://b.nl"]}


def test_references_must_be_the_whole_value(tmp_path: Path) -> None:
    found = issues_of(tmp_path, MINIMAL + """
[server]
public_url = "https://${HOST}/chat"
[store]
engine = "postgres"
dsn = "postgresql://handover:${DB_PASSWORD}@db/handover"
""")
    assert set(found) == {"server.public_url", "store.dsn"}
    assert all("whole value" in message for message in found.values())


def test_secret_like_keys_that_are_not_secrets(tmp_path: Path) -> None:
    """Numbers, and durations under a secret-looking name, are passed on as they are."""
    text = MINIMAL.replace(
        'type = "fake_channel"',
        'type = "fake_channel"\nmax_tokens = 5\ntoken_ttl_seconds = "1h"',
    )
    with pytest.raises(ConfigIssues) as caught:
        load(tmp_path, text)
    # Only the fake channel's own complaints: no secret rule was applied.
    assert {(i.path, i.message) for i in caught.value.issues} == {
        ("adapters.web.max_tokens", "unknown key"),
        ("adapters.web.token_ttl_seconds", "unknown key"),
    }
    assert FakeChannel.seen == {"max_tokens": 5, "token_ttl_seconds": "1h"}


def test_weak_admin_token(tmp_path: Path) -> None:
    found = issues_of(tmp_path, MINIMAL + '\n[server]\nadmin_tokens = ["${WEAK}"]\n',
                      env={**ENV, "WEAK": "letmein"})
    assert found == {
        "server.admin_tokens[0]": "too short (7 characters): use at least 16 random characters"
    }


# -- placeholders ---------------------------------------------------------------------------


def test_placeholders_are_refused(tmp_path: Path) -> None:
    text = MINIMAL.replace('"14 030"', '"<the KCC phone number>"').replace(
        'type = "fake_channel"', 'type = "fake_channel"\norigin = ["https://a.nl", "<origin>"]'
    ) + '\n[server]\npublic_url = "<https://chat.example.nl>"\n'
    found = issues_of(tmp_path, text)
    assert found == {
        "server.public_url": "placeholder from the example: replace it",
        "adapters.web.origin[1]": "placeholder from the example: replace it",
        "tenants.utrecht.handover.phone": "placeholder from the example: replace it",
    }


# -- references between tenants and adapters ---------------------------------------------------


def test_references_must_name_adapters_of_the_right_kind(tmp_path: Path) -> None:
    text = MINIMAL.replace('channels = ["web"]', 'channels = ["web", "kcc", "web"]').replace(
        'bot = "gem"', 'bot = "gen"').replace('desk = "kcc"', 'desk = "gem"')
    found = issues_of(tmp_path, text)
    assert found == {
        "tenants.utrecht.channels[1]":
            "adapter 'kcc' (type 'fake_desk') is a desk adapter, not a channel adapter",
        "tenants.utrecht.channels[2]": "'web' is listed twice",
        "tenants.utrecht.bot":
            "no adapter instance 'gen' is declared (add [adapters.gen]); did you mean 'gem'?",
        "tenants.utrecht.desk":
            "adapter 'gem' (type 'fake_bot') is a bot adapter, not a desk adapter",
    }


def test_required_tenant_keys(tmp_path: Path) -> None:
    text = MINIMAL.split("[tenants.utrecht]")[0] + """
[tenants.utrecht]
channels = []
[tenants.utrecht.handover]
queue_fallback = "bot"
"""
    found = issues_of(tmp_path, text)
    assert set(found) == {
        "tenants.utrecht.name", "tenants.utrecht.channels", "tenants.utrecht.bot",
        "tenants.utrecht.desk",
    }
    assert found["tenants.utrecht.channels"] == "name at least one channel adapter instance"


def test_unknown_adapter_type_lists_the_installed_ones(tmp_path: Path) -> None:
    found = issues_of(tmp_path, MINIMAL.replace('"fake_desk"', '"fake_dsk"'))
    assert found == {"adapters.kcc.type": str(UnknownAdapter("fake_dsk", FAKES))}
    assert "fake_desk" in found["adapters.kcc.type"]
    assert "demo_desk" in found["adapters.kcc.type"]


def test_adapter_problems(tmp_path: Path) -> None:
    found = issues_of(tmp_path, """
[adapters]
scalar = "fake_desk"
[adapters.broken-one]
type = "broken"
[adapters.crash]
type = "crashing_desk"
[adapters.untyped]
origin = []
[adapters.Bad_Name]
type = 3
""" + MINIMAL)
    assert found == {
        "adapters.scalar": 'expected table ([adapters.scalar] with type = "..."), got string',
        "adapters.broken-one.type":
            "adapter type 'broken' cannot be loaded: ImportError: No module named "
            "'adapters.broken'",
        "adapters.crash":
            "the 'crashing_desk' adapter failed to read its options: RuntimeError: boom",
        "adapters.untyped.type":
            'required: the adapter type, e.g. type = "rest" (see `handover adapters`)',
        "adapters.Bad_Name":
            "adapter instance name 'Bad_Name' must be lowercase letters, digits, '-' and '_', "
            "at most 63, starting with a letter or digit (it is used in URLs)",
        "adapters.Bad_Name.type": "expected string, got integer",
    }


def test_default_adapter_lookup_is_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def fake_adapter_class(name: str) -> type[Adapter]:
        calls.append(name)
        return lookup(name)

    monkeypatch.setattr(registry, "adapter_class", fake_adapter_class)
    load_config(write(tmp_path, MINIMAL), env=ENV)
    assert sorted(calls) == ["fake_bot", "fake_channel", "fake_desk"]


# -- tenants --------------------------------------------------------------------------------


def test_tenant_rules(tmp_path: Path) -> None:
    text = MINIMAL + """
[tenants."den haag"]
name = "Gemeente Den Haag"
channels = ["web"]
bot = "gem"
desk = "kcc"
default_language = "fr"
languages = ["nl", "EN"]
[tenants."den haag".handover]
queue_fallback = "bot"
[tenants."den haag".texts.de]
queued = "Warteschlange: {position}"
"""
    found = issues_of(tmp_path, text)
    assert set(found) == {
        'tenants."den haag"',
        'tenants."den haag".languages[1]',
        'tenants."den haag".texts.de',
    }
    assert "used in URLs" in found['tenants."den haag"']
    assert "'de' is not one of this tenant's languages" in found['tenants."den haag".texts.de']


def test_languages_must_contain_the_default(tmp_path: Path) -> None:
    found = issues_of(tmp_path, MINIMAL.replace('desk = "kcc"', 'desk = "kcc"\nlanguages = ["en"]'))
    assert found == {"tenants.utrecht.languages": "must contain the default_language 'nl'"}


def test_at_least_one_tenant(tmp_path: Path) -> None:
    found = issues_of(tmp_path, MINIMAL.split("[tenants.utrecht]")[0])
    assert list(found) == ["tenants"]


def test_phone_is_required_for_the_phone_fallback(tmp_path: Path) -> None:
    found = issues_of(tmp_path, MINIMAL.replace('phone = "14 030"', ""))
    assert found["tenants.utrecht.handover.phone"].startswith(
        'required when queue_fallback = "phone"'
    )


def test_hours_and_texts_issues_come_with_their_paths(tmp_path: Path) -> None:
    found = issues_of(tmp_path, MINIMAL + """
[tenants.utrecht.hours]
maandag = ["08:30-17:00"]
monday = ["17:00-08:30"]
[tenants.utrecht.texts.nl]
queud = "x"
"""
    )
    assert {p for p in found if p.startswith("tenants.utrecht.hours")} >= {
        "tenants.utrecht.hours.maandag"
    }
    assert any(p.startswith("tenants.utrecht.hours.monday") for p in found)
    assert "tenants.utrecht.texts.nl.queud" in found


# -- postgres -----------------------------------------------------------------------------


def test_postgres_needs_a_dsn(tmp_path: Path) -> None:
    found = issues_of(tmp_path, MINIMAL + '\n[store]\nengine = "postgres"\n')
    assert found["store.dsn"].startswith('required when engine = "postgres"')
    found = issues_of(tmp_path, MINIMAL + '\n[store]\nengine = "postgres"\ndsn = "${DSN}"\n',
                      env={**ENV, "DSN": "mysql://root:pw@db"})
    assert found == {"store.dsn": "expected a postgresql:// connection URL"}
    config = load(tmp_path, MINIMAL + '\n[store]\nengine = "postgres"\ndsn = "${DSN}"\n',
                  env={**ENV, "DSN": "postgresql://u:pw@db/h"})
    assert config.store.dsn == "postgresql://u:pw@db/h"


# -- files -------------------------------------------------------------------------------


def test_toml_syntax_error_is_reported_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nport = 8080\nhost = "unterminated\n')
    with pytest.raises(ConfigIssues) as caught:
        load_config(path, env=ENV, adapter_lookup=lookup)
    [issue] = caught.value.issues
    assert issue.path == f"{path}:3"
    assert issue.message.startswith("TOML syntax error: ")
    assert check_config(path, env=ENV, adapter_lookup=lookup) == [str(issue)]


def test_duplicate_table_is_a_syntax_error(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = 1\n\n[server]\nhost = 'x'\n")
    [line] = check_config(path, env=ENV, adapter_lookup=lookup)
    assert line.startswith(f"{path}:4: TOML syntax error")


def test_unreadable_file(tmp_path: Path) -> None:
    lines = check_config(tmp_path / "missing.toml", env=ENV, adapter_lookup=lookup)
    assert lines == [f"{tmp_path / 'missing.toml'}: cannot read: No such file or directory"]


def test_check_config_lines(tmp_path: Path) -> None:
    assert check_config(write(tmp_path, MINIMAL), env=ENV, adapter_lookup=lookup) == []
    lines = check_config(write(tmp_path, MINIMAL + "\n[server]\nport = -1\n"), env=ENV,
                         adapter_lookup=lookup)
    assert lines == ["server.port: must be at least 0, got -1"]


# -- the example file --------------------------------------------------------------------


def _example_env(text: str) -> dict[str, str]:
    """A long enough value for every variable the example references outside comments."""
    code = "\n".join(line.split("#")[0] for line in text.splitlines())
    names = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", code))
    assert names, "the example should show how secrets are referenced"
    return {name: f"value-of-{name.lower()}-0123456789" for name in names}


# A plausible value for every placeholder of the example, by key. A new placeholder
# without an entry here fails test_example_loads_once_placeholders_are_replaced.
PLAUSIBLE = {
    "public_url": "https://chat.utrecht.nl",
    "phone": "14 030",
    "url": "https://gem.utrecht.nl",
    "api_url": "https://api.obi4wan.nl",
    "channel_identifier": "6f1c2a4e-8d3b-4f7a-9c1e-2b5d7e9f0a13",
    "chat_guid": "0c9e8d7f-6a5b-4c3d-2e1f-0a9b8c7d6e5f",
    "phone_number_id": "106540352242922",
    "base_url": "https://openklant.utrecht.nl/klantinteracties/api/v1",
    "task_actor": "5b0e1c1e-7d4f-4c8e-9a53-0d2f6c1a9b11",
    "daemon_actor": "8a2d4c6e-1f3b-4d5a-9e7c-6b8d0f2a4c13",
}


def test_example_fails_only_on_placeholders() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    with pytest.raises(ConfigIssues) as caught:
        # The installed adapters, not fakes: their own sections must be valid too.
        load_config(EXAMPLE, env=_example_env(text))
    assert caught.value.issues
    assert {i.message for i in caught.value.issues} == {
        "placeholder from the example: replace it"
    }


def test_example_loads_once_placeholders_are_replaced(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")

    def replace(match: re.Match[str]) -> str:
        key = match.group(2)
        assert key in PLAUSIBLE, f"no plausible value for the placeholder of {key!r}"
        return f'{match.group(1)}"{PLAUSIBLE[key]}"'

    replaced = re.sub(r'^((\w+)\s*=\s*)"<[^"]*>"', replace, text, flags=re.MULTILINE)
    assert "<" not in "\n".join(line.split("#")[0] for line in replaced.splitlines())
    path = tmp_path / "example.toml"
    path.write_text(replaced, encoding="utf-8")
    config = load_config(path, env=_example_env(text))

    tenant = config.tenants["utrecht"]
    assert tenant.handover.phone == "14 030"
    assert config.server.public_url == "https://chat.utrecht.nl"
    assert config.store.path == str(tmp_path / "data" / "handover.db")
    # Mon-Fri 08:30-17:00 in Amsterdam, closed on holidays, exceptions win.
    assert tenant.hours.is_open(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))  # Mon 09:00 CET
    assert not tenant.hours.is_open(datetime(2026, 3, 7, 10, 0, tzinfo=UTC))  # Saturday
    assert not tenant.hours.is_open(datetime(2026, 4, 27, 10, 0, tzinfo=UTC))  # King's Day
    assert not tenant.hours.is_open(datetime(2026, 12, 24, 13, 0, tzinfo=UTC))  # 14:00 on 24th
    assert tenant.hours.is_open(datetime(2026, 12, 24, 9, 0, tzinfo=UTC))
    assert "Utrecht" in tenant.catalogue.render("queued", "nl", position=1)
    assert "Utrecht" in tenant.catalogue.render("queued", "en", position=1)


def test_example_documents_every_key() -> None:
    """Every key the core reads appears in the example, and every key line there sits in
    a block of lines that has a comment."""
    text = EXAMPLE.read_text(encoding="utf-8")
    sections = {
        ServerConfig: "[server]", StoreConfig: "[store]", DeliveryConfig: "[delivery]",
        LoggingConfig: "[logging]", HandoverPolicy: "[tenants.utrecht.handover]",
        SurveyPolicy: "[tenants.utrecht.survey]", TenantConfig: "[tenants.utrecht]",
        RetentionPolicy: "[tenants.utrecht.retention]",
        CallbackPolicy: "[tenants.utrecht.callback]",
        RegistrationPolicy: "[tenants.utrecht.registration]",
    }
    not_keys = {
        "id", "hours", "handover", "survey", "catalogue", "retention", "callback",
        "registration",
    }
    for cls in sections:
        for field in dataclasses.fields(cls):
            if field.name in not_keys or field.name == "max_age_seconds":
                continue
            assert re.search(rf"^#?\s*{field.name}(_file)? =", text, re.MULTILINE), (
                f"{cls.__name__}.{field.name} is not documented in the example"
            )
    for kind in DEFAULT_MAX_AGE_SECONDS:
        assert f'"{kind}" =' in text

    block_has_comment = False
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            block_has_comment = False
        elif stripped.startswith("#"):
            block_has_comment = True
        elif "=" in stripped and not stripped.startswith("["):
            assert block_has_comment or "#" in stripped, f"undocumented: {line}"
