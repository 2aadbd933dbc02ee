"""Browser origins in channel configuration (the widget's and rasa-webchat's)."""

from __future__ import annotations

from urllib.parse import urlsplit

from handover.sdk.options import Table, index


def origin_problem(origin: str) -> str | None:
    """What is wrong with a configured origin, or None.

    Origins are compared exactly with the browser's Origin header, so anything a
    browser never sends is refused when the configuration is read."""
    parts = urlsplit(origin)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return f"{origin!r} is not an origin like https://www.example.nl"
    if parts.path or parts.query or parts.fragment or parts.username:
        return f"{origin!r}: give only scheme://host[:port], without a path or a trailing /"
    if origin != origin.lower():
        return f"{origin!r}: write it in lower case, as browsers send it"
    return None


def read_origins(t: Table) -> frozenset[str]:
    """The required `origins` of a tenant table: the exact origins of the pages that
    embed a browser widget; each one that a browser would never send is reported."""
    origins = []
    for i, origin in enumerate(t.strings("origins")):
        problem = origin_problem(origin)
        if problem:
            t.issues.add(index(t.at("origins"), i), problem)
        else:
            origins.append(origin)
    if not t.has("origins"):
        t.issues.add(t.at("origins"), "required: the exact origins (scheme://host[:port]) of "
                     "the pages that embed the widget")
    return frozenset(origins)
