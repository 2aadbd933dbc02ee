"""Reading a Rasa tracker (`GET /conversations/{id}/tracker`): pure functions, no I/O.

A tracker is `{sender_id, slots: {name: value}, latest_message: {text, intent: {name,
confidence}, entities}, latest_action_name, events: [{event: "user" | "bot" | "action"
| "slot" | ..., timestamp, ...}], paused}`. Rasa appends `action_listen` when it has
finished handling a user message; a user event without a later `action_listen` is a
turn Rasa did not finish (its internal timeout or an error), which is how an empty
REST answer caused by a timeout is told apart from a bot that had nothing to say.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from adapters.rasa.client import MESSAGE_ID_KEY

__all__ = ["TurnState", "details_for_agent", "latest_intent", "turn_state"]

_LISTEN = "action_listen"


class TurnState(StrEnum):
    FINISHED = "finished"  # the bot handled the turn and listens again
    UNFINISHED = "unfinished"  # the turn is in the tracker, its handling did not end
    MISSING = "missing"  # the tracker does not know the turn


def _events(tracker: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    events = tracker.get("events")
    if not isinstance(events, list):
        return []
    return [e for e in events if isinstance(e, Mapping)]


def _user_event_index(events: Sequence[Mapping[str, Any]], message_id: str) -> int | None:
    for i in range(len(events) - 1, -1, -1):
        event = events[i]
        if event.get("event") != "user":
            continue
        metadata = event.get("metadata")
        if isinstance(metadata, Mapping) and metadata.get(MESSAGE_ID_KEY) == message_id:
            return i
    return None


def turn_state(tracker: Mapping[str, Any], message_id: str) -> TurnState:
    """Whether Rasa finished handling the turn we sent with `message_id`."""
    events = _events(tracker)
    start = _user_event_index(events, message_id)
    if start is None:
        return TurnState.MISSING
    for event in events[start + 1 :]:
        if event.get("event") == "action" and event.get("name") == _LISTEN:
            return TurnState.FINISHED
    return TurnState.UNFINISHED


def _intent_name(parse_data: Any) -> str | None:
    if not isinstance(parse_data, Mapping):
        return None
    intent = parse_data.get("intent")
    if isinstance(intent, Mapping) and isinstance(intent.get("name"), str):
        name: str = intent["name"]
        return name
    return None


def latest_intent(tracker: Mapping[str, Any], message_id: str | None = None) -> str | None:
    """The intent of the turn with `message_id` (or of the latest message)."""
    if message_id is not None:
        events = _events(tracker)
        index = _user_event_index(events, message_id)
        if index is not None:
            return _intent_name(events[index].get("parse_data"))
    return _intent_name(tracker.get("latest_message"))


def _recent_intents(tracker: Mapping[str, Any], count: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for event in reversed(_events(tracker)):
        if len(out) >= count:
            break
        if event.get("event") != "user":
            continue
        parse_data = event.get("parse_data")
        name = _intent_name(parse_data)
        if name is None:
            continue
        item: dict[str, Any] = {"intent": name}
        assert isinstance(parse_data, Mapping)  # _intent_name found a name in it
        confidence = parse_data["intent"].get("confidence")
        if isinstance(confidence, int | float) and not isinstance(confidence, bool):
            item["confidence"] = round(float(confidence), 3)
        out.append(item)
    out.reverse()
    return out


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return str(value)


def details_for_agent(
    tracker: Mapping[str, Any], slots: Sequence[str], intents: int
) -> dict[str, Any]:
    """What the agent sees from the tracker: the last `intents` intents of the citizen
    and the configured slots that have a value. Slots not listed are never shown: they
    may hold personal data the DPIA does not allow at the desk."""
    details: dict[str, Any] = {}
    recent = _recent_intents(tracker, intents) if intents else []
    if recent:
        details["intents"] = recent
    values = tracker.get("slots")
    if isinstance(values, Mapping) and slots:
        shown = {name: _json_safe(values[name]) for name in slots if values.get(name) is not None}
        if shown:
            details["slots"] = shown
    return details
