"""Hypothesis strategies for inbound data: JSON-ish junk and frames that have the
right shape but wrong values (the inputs a broken or hostile client sends)."""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

#: Examples per fuzz test. The default keeps the suite within CI's time;
#: HANDOVER_FUZZ_EXAMPLES=2000 is a soak run.
EXAMPLES = int(os.environ.get("HANDOVER_FUZZ_EXAMPLES", "0")) or 100

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # a loaded machine is slow; a hang is caught by the call timeout
    derandomize=not os.environ.get("HANDOVER_FUZZ_EXAMPLES"),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)

# Strings that have broken parsers before: control characters, surrogates escaped in
# JSON, huge numbers, path tricks, template and SQL-ish text.
_NASTY = st.sampled_from([
    "", " ", "\x00", "\u202e", "\ud800", "../../etc/passwd", "${HOME}", "{0}", "%s",
    "'; DROP TABLE outbox; --", "9" * 400, "-1", "0", "1e999", "NaN", "null", "true",
    "<script>alert(1)</script>", "a" * 5000,
])

text = st.one_of(st.text(max_size=60), _NASTY)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), text,
)
json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)),
    max_leaves=12,
)


def shaped(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """An object with (some of) the real keys, each a right or wrong value, and junk keys."""
    return st.builds(
        lambda chosen, extra: {**extra, **chosen},
        st.fixed_dictionaries({}, optional={k: st.one_of(v, json_values)
                                            for k, v in fields.items()}),
        st.dictionaries(text, json_values, max_size=2),
    )


#: JSON nested deeper than Python's parser recurses (a 500 once, on every surface),
#: and just short of it; small enough for every body cap.
nested_json = st.builds(
    lambda depth, opener, leaf: (opener * depth + leaf + _CLOSERS[opener] * depth).encode(),
    st.sampled_from([50, 900, 1200, 5000, 20_000]),
    st.sampled_from(["[", '{"a":']),
    st.sampled_from(["1", "null", '"x"']),
)
_CLOSERS = {"[": "]", '{"a":': "}"}


def bodies(obj: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """Request bodies: the object as JSON, any JSON, broken JSON, deeply nested JSON,
    or raw bytes."""
    return st.one_of(
        obj.map(lambda o: json.dumps(o).encode()),
        json_values.map(lambda o: json.dumps(o).encode()),
        obj.map(lambda o: json.dumps(o).encode()[:-1]),  # truncated
        nested_json,
        st.binary(max_size=200),
    )


ids = st.one_of(st.text(alphabet="0123456789abcdef", min_size=1, max_size=40), text)
#: What a client can put in a header (aiohttp refuses control characters itself),
#: including oversized values: a 400-digit timestamp once overflowed before a signature
#: check, and a header past aiohttp's 8 KiB line limit must be refused, not crash.
header_text = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80),
    st.sampled_from(["9" * 400, "1" * 8000, "-" + "9" * 30, "1e999", "NaN"]),
)
