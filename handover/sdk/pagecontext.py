"""The page a citizen chats from, as a channel passes it to the bot and the desk.

One rule for every channel: only `url`, `title` and `referrer`, each a string of at most
2048 characters, and the two addresses without their query string and fragment. A
query string or fragment may hold what the citizen searched for or typed (a postcode,
a case number, a name in a form that submits by GET), and the bot and the desk need the
page, not that. The web widget already cuts them before sending; a channel applies
`page_address` (or `clean_page_context`) on the server side as well, because a client
may be anyone's.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

#: The keys a channel accepts in a page context.
CONTEXT_KEYS = ("url", "title", "referrer")
#: The longest value accepted for each key, in characters.
MAX_CONTEXT_VALUE_LENGTH = 2048
#: The keys that hold an address (cut by `page_address`).
ADDRESS_KEYS = frozenset({"url", "referrer"})


def page_address(value: str) -> str:
    """`value` without its query string and fragment (scheme, host and path kept)."""
    try:
        parts = urlsplit(value)
    except ValueError:
        # Not an address at all (e.g. an unbalanced "[" in the host): keep nothing of it
        # that could be a query.
        return value.split("?", 1)[0].split("#", 1)[0]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def clean_page_context(values: Mapping[str, str]) -> dict[str, str]:
    """The already validated `values` with the addresses cut by `page_address`; empty
    values are left out."""
    out: dict[str, str] = {}
    for key in CONTEXT_KEYS:
        value = values.get(key)
        if not value:
            continue
        out[key] = page_address(value) if key in ADDRESS_KEYS else value
    return out
