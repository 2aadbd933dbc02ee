"""A tenant's registration targets and its callback and registration policies.

    [tenants.<id>]
    registries = ["openklant", "console"]     # adapter instances implementing
                                              # handover.sdk.registration.RegistrationTarget
    [tenants.<id>.callback]                   # the callback request (contactverzoek)
    enabled = true
    offer_when = ["outside_hours", "unavailable", "queue_timeout", "desk_failed"]
    step_timeout_seconds = 300
    ask_name = true
    [tenants.<id>.registration]               # finished contacts (klantcontact)
    contacts = true
    content = "topic"                         # none | topic | summary
    transcript = false
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import get_args

from handover.config.model import (
    CALLBACK_OFFERS,
    AdapterInstance,
    CallbackOffer,
    CallbackPolicy,
    ContactContent,
    RegistrationPolicy,
)
from handover.sdk.options import Table, did_you_mean, index
from handover.sdk.registration import RegistrationTarget


def parse_registries(
    t: Table, adapters: Mapping[str, AdapterInstance], declared: set[str]
) -> tuple[tuple[str, ...], bool]:
    """`registries`: adapter instances whose class implements `RegistrationTarget`.
    Returns the valid ones, and whether every name listed was valid."""
    names = t.strings("registries")
    ok: list[str] = []
    for i, name in enumerate(names):
        path = index(t.at("registries"), i)
        instance = adapters.get(name)
        if name in names[:i]:
            t.issues.add(path, f"{name!r} is listed twice")
        elif instance is None:
            if name not in declared:
                t.issues.add(path, f"no adapter instance {name!r} is declared (add "
                                   f"[adapters.{name}]){did_you_mean(name, declared)}")
        elif not issubclass(instance.cls, RegistrationTarget):
            t.issues.add(path, f"adapter {name!r} (type {instance.type!r}) is a "
                               f"{instance.kind} adapter that registers nothing: name a "
                               "registration target (a registry adapter such as openklant, "
                               "or a desk that keeps callback requests such as console)")
        else:
            ok.append(name)
    return tuple(ok), len(ok) == len(names)


def parse_callback(
    t: Table, registries: tuple[str, ...], complete: bool,
    adapters: Mapping[str, AdapterInstance],
) -> CallbackPolicy:
    """`[tenants.<id>.callback]`; `registries` are the tenant's valid targets, and
    `complete` says none was refused (a refused one is reported already)."""
    defaults = CallbackPolicy()
    enabled = t.boolean("enabled", defaults.enabled)
    offer = t.strings("offer_when", defaults.offer_when)
    valid: list[CallbackOffer] = []
    for i, value in enumerate(offer):
        if value in CALLBACK_OFFERS:
            valid.append(value)
        else:
            t.issues.add(index(t.at("offer_when"), i),
                         f"{value!r} is not one of {', '.join(CALLBACK_OFFERS)}"
                         f"{did_you_mean(value, CALLBACK_OFFERS)}")
    timeout = t.duration("step_timeout_seconds", defaults.step_timeout_seconds)
    ask_name = t.boolean("ask_name", defaults.ask_name)
    if enabled and complete:
        takers = [n for n in registries
                  if getattr(adapters[n].cls, "registers_callbacks", False)]
        if not takers:
            t.issues.add(t.at("enabled"), "a callback request needs somewhere to go: name a "
                                          "registration target that registers callbacks in "
                                          "this tenant's registries")
    t.finish()
    return CallbackPolicy(enabled, tuple(valid), timeout, ask_name)


def parse_registration(t: Table) -> RegistrationPolicy:
    defaults = RegistrationPolicy()
    contacts = t.boolean("contacts", defaults.contacts)
    content = t.choice("content", defaults.content, get_args(ContactContent))
    transcript = t.boolean("transcript", defaults.transcript)
    t.finish()
    return RegistrationPolicy(contacts, content, transcript)
