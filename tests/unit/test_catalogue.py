"""System texts: built-in nl/en completeness, fallback order, override checks."""

from __future__ import annotations

import string
import tomllib
from importlib import resources
from typing import Any

import pytest

from handover.sdk.contracts import ConfigIssues
from handover.texts.catalogue import KEYS, Catalogue, CatalogueError

PATH = "tenants.x.texts"

DOCUMENTED: dict[str, set[str]] = {
    "outside_hours": {"hours", "phone"},
    "no_agents": {"phone"},
    "queued": {"position"},
    "queue_update": {"position", "minutes"},
    "queue_timeout_phone": {"phone", "hours"},
    "agent_joined": {"agent"},
    "desk_unavailable": {"phone"},
    "transfer_failed": {"phone"},
    "transfer_goodbye": {"phone", "hours"},
    "callback_caller_number": {"digits"},
    "callback_question_suggested": {"question"},
    "callback_confirmed": {"reference", "when"},
}
CITIZEN_KEYS = {
    "handover_checking", "outside_hours", "no_agents", "queued", "queued_unknown",
    "queue_update", "queue_timeout_phone", "queue_timeout_message", "queue_timeout_bot",
    "agent_joined", "agent_closed", "agent_inactive", "citizen_inactive", "back_to_bot",
    "survey_question", "survey_comment", "survey_thanks", "survey_invalid", "bot_apology",
    "bot_escalating", "delivery_failed", "desk_unavailable", "handover_refused", "skip_label",
    "desk_delayed", "consent_question", "consent_declined", "consent_yes_label", "consent_no_label",
    "window_closing",
    "transferring", "transfer_failed", "transfer_goodbye",
    "callback_offer", "callback_yes_label", "callback_no_label", "callback_declined",
    "callback_caller_number", "callback_other_number_label", "callback_address",
    "callback_address_spoken", "callback_address_invalid", "callback_address_invalid_spoken",
    "callback_name", "callback_question", "callback_question_suggested", "callback_same_label",
    "callback_confirmed", "callback_stopped", "callback_abandoned", "callback_intro_busy",
}
NOTE_KEYS = {
    "note_citizen_left", "note_queue_timeout", "note_citizen_inactive",
    "note_agent_inactive", "note_delivery_failed", "note_template_fallback",
}


def builtin(language: str) -> dict[str, Any]:
    text = resources.files("handover.texts").joinpath(f"{language}.toml").read_text("utf-8")
    return tomllib.loads(text)


def fields(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def params(key: str) -> dict[str, object]:
    return {name: f"<{name}>" for name in Catalogue.placeholders(key)}


def issues_of(section: Any) -> dict[str, str]:
    with pytest.raises(ConfigIssues) as caught:
        Catalogue.from_config(section, PATH)
    return {issue.path: issue.message for issue in caught.value.issues}


# -- built-in texts --------------------------------------------------------------------


def test_keys_are_the_documented_ones() -> None:
    assert KEYS == CITIZEN_KEYS | NOTE_KEYS


@pytest.mark.parametrize("language", ["nl", "en"])
def test_every_key_has_exactly_its_placeholders(language: str) -> None:
    texts = builtin(language)
    assert set(texts) == KEYS
    for key in KEYS:
        assert isinstance(texts[key], str)
        assert texts[key].strip()
        assert fields(texts[key]) == DOCUMENTED.get(key, set()), key
        assert Catalogue.placeholders(key) == frozenset(DOCUMENTED.get(key, set()))


def test_nl_and_en_differ_and_dutch_uses_u() -> None:
    nl, en = builtin("nl"), builtin("en")
    for key in KEYS:
        assert nl[key] != en[key], f"{key} is not translated"
        words = set(nl[key].lower().replace(".", " ").replace(",", " ").split())
        assert not words & {"je", "jij", "jou", "jouw"}, key
    assert nl["agent_joined"] == "{agent} helpt u verder."
    assert en["agent_joined"] == "{agent} is now helping you."
    assert nl["skip_label"] == "Overslaan"
    assert en["skip_label"] == "Skip"


@pytest.mark.parametrize("language", ["nl", "en"])
def test_render_fills_every_placeholder(language: str) -> None:
    catalogue = Catalogue()
    for key in KEYS:
        text = catalogue.render(key, language, **params(key))
        assert "{" not in text and "}" not in text
        for name in Catalogue.placeholders(key):
            assert f"<{name}>" in text
    assert catalogue.render("queued", "nl", position=0).endswith(": 0.")


def test_languages() -> None:
    assert Catalogue().languages() == {"nl", "en"}
    catalogue = Catalogue({"tr": {"skip_label": "Atla"}, "de": {}})
    assert catalogue.languages() == {"nl", "en", "tr"}


# -- lookup order ----------------------------------------------------------------------


def test_override_wins_over_builtin_in_same_language() -> None:
    catalogue = Catalogue({"nl": {"agent_joined": "U praat nu met {agent}."}})
    assert catalogue.render("agent_joined", "nl", agent="Sanne") == "U praat nu met Sanne."
    assert catalogue.render("agent_joined", "en", agent="Sanne") == "Sanne is now helping you."


def test_lookup_order() -> None:
    catalogue = Catalogue(
        {
            "tr": {"skip_label": "Atla"},
            "en": {"skip_label": "Pass", "survey_thanks": "Cheers!"},
            "nl": {"survey_thanks": "Top, bedankt!"},
        },
        default_language="en",
    )
    # 1. override in the requested language
    assert catalogue.render("skip_label", "tr") == "Atla"
    # 2. built-in requested language beats the default language's override
    assert catalogue.render("skip_label", "nl") == "Overslaan"
    # 3. override in the default language
    assert catalogue.render("survey_thanks", "tr") == "Cheers!"
    # 4. built-in default language
    assert catalogue.render("survey_invalid", "tr") == "Please answer with a number from 0 to 10."


def test_unknown_language_falls_back_to_default_then_nl() -> None:
    assert Catalogue(default_language="en").render("skip_label", "fr") == "Skip"
    assert Catalogue().render("skip_label", "fr") == "Overslaan"
    # A default language without any texts: built-in Dutch is the last resort.
    assert Catalogue(default_language="fr").render("skip_label", "de") == "Overslaan"


def test_regional_tags_use_the_language() -> None:
    catalogue = Catalogue({"en-gb": {"skip_label": "Skip it"}}, default_language="NL")
    assert catalogue.render("skip_label", "en-GB") == "Skip it"
    assert catalogue.render("skip_label", "en_US") == "Skip"
    assert catalogue.render("skip_label", "nl-BE") == "Overslaan"


def test_from_config_none_and_valid() -> None:
    assert Catalogue.from_config(None, PATH).render("skip_label", "en") == "Skip"
    catalogue = Catalogue.from_config(
        {"nl": {"queued": "Wachtenden voor u: {position}. {{geduld}}"}}, PATH
    )
    assert catalogue.render("queued", "nl", position=2) == "Wachtenden voor u: 2. {geduld}"
    # An override may leave a placeholder out; callers still pass it.
    plain = Catalogue.from_config({"nl": {"queued": "U staat in de wachtrij."}}, PATH)
    assert plain.render("queued", "nl", position=3) == "U staat in de wachtrij."


# -- render errors ---------------------------------------------------------------------


def test_render_unknown_key() -> None:
    with pytest.raises(KeyError):
        Catalogue().render("queud", "nl")
    with pytest.raises(KeyError):
        Catalogue.placeholders("queud")


def test_render_missing_param() -> None:
    catalogue = Catalogue()
    with pytest.raises(CatalogueError, match=r"missing: \{agent\}"):
        catalogue.render("agent_joined", "nl")
    with pytest.raises(CatalogueError, match=r"missing: \{minutes\}"):
        catalogue.render("queue_update", "en", position=1)
    # Documented placeholders are required even when the chosen text leaves them out.
    plain = Catalogue({"nl": {"queued": "U staat in de wachtrij."}})
    with pytest.raises(CatalogueError, match=r"missing: \{position\}"):
        plain.render("queued", "nl")


def test_render_ignores_extra_params() -> None:
    # The core passes shared context (hours, phone) along with every key.
    assert Catalogue().render("skip_label", "nl", hours="ma", phone="14 030") == "Overslaan"
    assert Catalogue().render("agent_joined", "en", agent="Sanne", phone="14 030") == (
        "Sanne is now helping you."
    )


# -- configuration errors --------------------------------------------------------------


def test_unknown_key_with_suggestion() -> None:
    assert issues_of({"nl": {"queud": "x", "frobnicate": "y"}}) == {
        f"{PATH}.nl.queud": "unknown text key (did you mean 'queued'?)",
        f"{PATH}.nl.frobnicate": "unknown text key",
    }


def test_bad_placeholders() -> None:
    found = issues_of({"nl": {
        "agent_joined": "{agnt} helpt u verder.",
        "skip_label": "{agent}",
        "queue_update": "{position} {minutes:d}",
        "outside_hours": "{hours!r}",
        "no_agents": "{phone.number}",
        "back_to_bot": "{}",
    }})
    assert found[f"{PATH}.nl.agent_joined"] == (
        "unknown placeholder {agnt} (did you mean {agent}? allowed: {agent})"
    )
    assert found[f"{PATH}.nl.skip_label"] == (
        "unknown placeholder {agent}: this text takes no placeholders"
    )
    for key in ("queue_update", "outside_hours", "no_agents", "back_to_bot"):
        assert "is not allowed: only plain {name} works" in found[f"{PATH}.nl.{key}"]


def test_invalid_format_strings() -> None:
    found = issues_of({"en": {"no_agents": "Call {phone", "skip_label": "Skip }"}})
    assert set(found) == {f"{PATH}.en.no_agents", f"{PATH}.en.skip_label"}
    assert all(message.startswith("invalid format string") for message in found.values())


def test_non_string_and_empty_values() -> None:
    assert issues_of({"nl": {"queued": 3, "skip_label": ["x"], "survey_thanks": "  "}}) == {
        f"{PATH}.nl.queued": "expected a string, got int",
        f"{PATH}.nl.skip_label": "expected a string, got list",
        f"{PATH}.nl.survey_thanks": "the text is empty",
    }


def test_wrong_shapes() -> None:
    found = issues_of({"queued": "x", "tr": ["x"], "Dutch": {"queued": "x"}, "pt BR": {}})
    assert found == {
        f"{PATH}.queued": f"texts go under a language: [{PATH}.nl] queued = ...",
        f"{PATH}.tr": f"expected a table of texts, e.g. [{PATH}.nl]",
        f"{PATH}.Dutch": "'Dutch' is not a language code such as 'nl' or 'en'",
        f'{PATH}."pt BR"': "'pt BR' is not a language code such as 'nl' or 'en'",
    }
    assert issues_of("nl") == {PATH: "expected a table with one table of texts per language"}


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(ConfigIssues) as caught:
        Catalogue.from_config({
            "nl": {"queud": "x", "agent_joined": "{agnt}", "skip_label": 1},
            "en": {"no_agents": "{", "queued": "ok {position}"},
            "klingon": {},
        }, PATH)
    assert sorted(issue.path for issue in caught.value.issues) == sorted([
        f"{PATH}.nl.queud", f"{PATH}.nl.agent_joined", f"{PATH}.nl.skip_label",
        f"{PATH}.en.no_agents", f"{PATH}.klingon",
    ])
    assert f"{PATH}.nl.queud: unknown text key (did you mean 'queued'?)" in str(caught.value)


def test_constructor_checks_overrides_too() -> None:
    with pytest.raises(CatalogueError, match=r"texts\.nl\.queud: unknown text key"):
        Catalogue({"nl": {"queud": "x"}})
