"""The VoiceAI Connect bot API (HTTP mode) on the wire: what the gateway posts and the
activities the daemon answers with. Every field name of the API is in this module.

The gateway is the HTTP client; the daemon is the "bot":

- `POST <botURL>` `{"conversation", "id"?, "timestamp"?}` creates a conversation; the
  answer names the URLs for the rest of the call (`activitiesURL`, `refreshURL`,
  `disconnectURL`, relative to the botURL) and `expiresSeconds`.
- `POST activitiesURL` `{"conversation", "activities": [...]}`; the answer carries the
  bot's activities: `{"activities": [...]}`.
- `POST refreshURL` `{"conversation"}` keeps the call alive; `POST disconnectURL`
  `{"conversation", "reason"?, "reasonCode"?}` ends it.

The gateway may add fields we do not know; they are ignored, not refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from handover.sdk.http import ApiError

MAX_ID_LENGTH = 200
MAX_TEXT_LENGTH = 4000
MAX_ACTIVITIES = 50

# Event names from the gateway.
START = "start"
DTMF = "DTMF"
NO_INPUT = "noUserInput"
TRANSFER_STATUS = "transferStatus"
HANGUP = "hangup"


@dataclass(frozen=True, slots=True)
class Activity:
    """One activity from the gateway: a recognised utterance or an event."""

    id: str
    type: str
    text: str = ""
    name: str = ""
    value: Any = None
    parameters: Mapping[str, Any] = field(default_factory=dict)


def _string(data: Mapping[str, Any], key: str, where: str, *, required: bool,
            max_length: int = MAX_ID_LENGTH) -> str:
    value = data.get(key)
    if value is None:
        if required:
            raise ApiError(400, "missing_field", f"{where}{key} is required")
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ApiError(400, "invalid_field", f"{where}{key} must be a non-empty string")
    if len(value) > max_length:
        raise ApiError(400, "invalid_field", f"{where}{key} may be at most {max_length} characters")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            # JSON may escape a lone surrogate ("\ud800"); no store can keep one.
            raise ApiError(400, "invalid_field", f"{where}{key} is not valid text") from None
    return value


def conversation_of(body: Mapping[str, Any]) -> str:
    """The gateway's conversation id in any request body."""
    return _string(body, "conversation", "", required=True)


def parse_activities(body: Mapping[str, Any]) -> list[Activity]:
    """The activities of a `POST activitiesURL`, checked before any is applied, so a
    malformed request changes nothing."""
    raw = body.get("activities")
    if not isinstance(raw, list):
        raise ApiError(400, "invalid_field", "activities must be an array")
    if len(raw) > MAX_ACTIVITIES:
        raise ApiError(400, "invalid_field", f"at most {MAX_ACTIVITIES} activities per request")
    out = []
    for i, item in enumerate(raw):
        where = f"activities[{i}]."
        if not isinstance(item, Mapping):
            raise ApiError(400, "invalid_field", f"activities[{i}] must be an object")
        kind = _string(item, "type", where, required=True)
        if kind not in ("message", "event"):
            raise ApiError(400, "invalid_field", f'{where}type must be "message" or "event"')
        params = item.get("parameters") or {}
        if not isinstance(params, Mapping):
            raise ApiError(400, "invalid_field", f"{where}parameters must be an object")
        activity = Activity(
            id=_string(item, "id", where, required=True),
            type=kind,
            text=_string(item, "text", where, required=False, max_length=MAX_TEXT_LENGTH),
            name=_string(item, "name", where, required=kind == "event"),
            value=item.get("value"),
            parameters=params,
        )
        # Read the values now: a bad one refuses the request before anything is applied.
        if activity.type == "event" and activity.name == DTMF:
            dtmf_digits(activity)
        elif activity.type == "event" and activity.name == TRANSFER_STATUS:
            transfer_answered(activity)
        out.append(activity)
    return out


def caller(activity: Activity) -> object:
    """The caller's number as the `start` event carries it (`parameters.caller`, taken
    from the SIP From header; some set-ups put the call's details in `value`), unchecked:
    see `adapters.voiceai.caller`."""
    found = activity.parameters.get("caller")
    if found is None and isinstance(activity.value, Mapping):
        found = activity.value.get("caller")
    return found


def dtmf_digits(activity: Activity) -> str:
    """The keys pressed, e.g. "2" or "1234#" (the submit key is dropped)."""
    value = activity.value
    digits = value if isinstance(value, str) else ""
    digits = digits.strip().rstrip("#")
    if not digits or not all(c in "0123456789*" for c in digits):
        raise ApiError(400, "invalid_field", f"DTMF activity {activity.id}: value must be digits")
    return digits


def transfer_answered(activity: Activity) -> tuple[bool, str]:
    """(answered, reason) from a `transferStatus` event: its value is an object
    `{"status": "answered" | "failed", "reasonCode"?, "reason"?}` (a bare status string
    is accepted too)."""
    value = activity.value
    if isinstance(value, Mapping):
        status, reason = value.get("status"), value.get("reasonCode") or value.get("reason")
    else:
        status, reason = value, activity.parameters.get("reason")
    if not isinstance(status, str) or not status:
        raise ApiError(400, "invalid_field",
                       f"transferStatus activity {activity.id}: value.status is required")
    return status.lower() in ("answered", "completed", "success"), str(reason or status)[:200]


# --- what the daemon answers ----------------------------------------------------------


def _activity(now: datetime, **fields: Any) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "timestamp": now.isoformat(), **fields}


def message(now: datetime, text: str) -> dict[str, Any]:
    """Text the gateway speaks to the caller."""
    return _activity(now, type="message", text=text)


def config(now: datetime, *, no_input_ms: int, no_input_retries: int,
           dtmf_max_digits: int) -> dict[str, Any]:
    """Session settings: DTMF sent to the bot, collected up to `#` or `dtmf_max_digits`,
    and the `noUserInput` event after `no_input_ms` of silence (0: no such event)."""
    params: dict[str, Any] = {
        "sendDTMF": True,
        "dtmfCollect": True,
        "dtmfCollectMaxDigits": dtmf_max_digits,
        "dtmfCollectSubmitDigit": "#",
        "dtmfCollectInterDigitTimeoutMS": 2000,
    }
    if no_input_ms > 0:
        params.update(sendEventsToBot=[NO_INPUT], userNoInputTimeoutMS=no_input_ms,
                      userNoInputRetries=no_input_retries)
    return _activity(now, type="event", name="config", sessionParams=params)


def transfer(now: datetime, target: str, headers: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Transfer the call; `headers` go into the SIP REFER/INVITE towards the target."""
    return _activity(
        now, type="event", name="transfer",
        activityParams={
            "transferTarget": target,
            "transferSipHeaders": [{"name": n, "value": v} for n, v in headers],
        },
    )


def hangup(now: datetime, reason: str) -> dict[str, Any]:
    return _activity(now, type="event", name="hangup", activityParams={"hangupReason": reason})


#: The call's URLs in the answer to a new conversation: our route name -> wire field.
CALL_URLS = {"activities": "activitiesURL", "refresh": "refreshURL",
             "disconnect": "disconnectURL"}


def created(urls: Mapping[str, str], expires_seconds: int) -> dict[str, Any]:
    """The answer to a new conversation; `urls` by route name (see CALL_URLS), each
    absolute or root-relative."""
    answer: dict[str, Any] = {CALL_URLS[name]: url for name, url in urls.items()}
    answer["expiresSeconds"] = expires_seconds
    return answer
