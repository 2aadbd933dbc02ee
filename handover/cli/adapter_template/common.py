"""The files `handover new-adapter` writes, as `string.Template`s (`$$` is a literal `$`).

Placeholders: `$package` (the Python package), `$cls` (the adapter class), `$name` (the
entry-point type name), `$kind`. The generated adapter talks to a made-up JSON API
(`wire.py`) that the author replaces with the real one; as generated it passes the
conformance suite.
"""

from __future__ import annotations

from string import Template

OPTIONS = Template('''\
"""The `[adapters.<name>]` options of the $cls adapter."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from handover.sdk.errors import ConfigIssues
from handover.sdk.options import Issues, Table


@dataclass(frozen=True, slots=True)
class Options:
    #: The upstream API's base URL.
    api_url: str
    #: The API's bearer token (in the file as a reference: "$${EXAMPLE_API_TOKEN}").
    api_token: str
    #: The token the upstream sends as `X-Webhook-Token` when it calls our route.
    webhook_token: str = ""
    #: Give up on one API request after this long (the core retries later).
    request_timeout_seconds: float = 10.0


def parse_options(section: Mapping[str, Any], path: str) -> Options:
    """Validate the section; raise ConfigIssues with every problem and its path."""
    issues = Issues()
    t = Table(section, path, issues)
    api_url = t.required_string("api_url", 'the API base URL, e.g. "https://api.example.nl"')
    if api_url is not None:
        parts = urlsplit(api_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            issues.add(t.at("api_url"), "expected an http(s) URL")
    api_token = t.required_string("api_token", 'as "$${EXAMPLE_API_TOKEN}"')
    webhook_token = $webhook_token_parse
    timeout = t.duration("request_timeout_seconds", 10.0)
    t.finish()  # reports every key nobody asked for, with its path
    if issues:
        raise ConfigIssues(issues.items)
    return Options(
        api_url=(api_url or "").rstrip("/"),
        api_token=api_token or "",
        webhook_token=webhook_token or "",
        request_timeout_seconds=timeout,
    )
''')

WEBHOOK_OPTION_PARSE = (
    't.required_string("webhook_token", \'as "${EXAMPLE_WEBHOOK_TOKEN}"\')'
)
NO_WEBHOOK_OPTION = '""  # a bot has no inbound route'

CLIENT = Template('''\
"""The upstream API client: HTTP and error classification, nothing about the core."""

from __future__ import annotations

from typing import Any

import aiohttp
from handover.sdk.errors import AmbiguousSendError, AuthError, PermanentError, TransientError
from handover.sdk.retry import parse_retry_after

from $package.options import Options

#: Whether a request that may have arrived can be sent again: our requests carry our
#: message id, which the API treats as an idempotency key. Set False for an API
#: without one (a timeout then raises AmbiguousSendError and the core never resends).
IDEMPOTENT = $idempotent


class ApiClient:
    def __init__(self, session: aiohttp.ClientSession, options: Options) -> None:
        self._session = session
        self._options = options

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST JSON; the JSON answer. Raises a DeliveryError subclass on failure:
        TransientError for 429/5xx/timeouts (AmbiguousSendError when the body may have
        arrived at a non-idempotent API), AuthError for 401/403, PermanentError for
        any other 4xx."""
        url = f"{self._options.api_url}/{path.lstrip('/')}"
        headers = {"Authorization": f"Bearer {self._options.api_token}"}
        timeout = aiohttp.ClientTimeout(total=self._options.request_timeout_seconds)
        try:
            async with self._session.post(
                url, json=body, headers=headers, timeout=timeout
            ) as resp:
                status = resp.status
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                answer = await resp.json(content_type=None) if status < 300 else None
        except aiohttp.ClientConnectorError as exc:
            raise TransientError(f"{path}: cannot connect ({exc})") from None
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            # The body may have arrived: only an idempotent API may get it again.
            error = TransientError if IDEMPOTENT else AmbiguousSendError
            raise error(f"{path}: no answer ({type(exc).__name__})") from None
        if status in (401, 403):
            raise AuthError(f"{path}: credentials refused ({status})")
        if status == 429 or status >= 500:
            raise TransientError(f"{path}: upstream answered {status}", retry_after=retry_after)
        if status >= 400:
            raise PermanentError(f"{path}: upstream refused the request ({status})")
        return answer if isinstance(answer, dict) else {}
''')

README = Template('''\
# $package: a handover $kind adapter

Registered as adapter type `$name` (see `pyproject.toml`):

```toml
[adapters.$name]
type = "$name"
api_url = "https://api.example.nl"
api_token = "$${EXAMPLE_API_TOKEN}"
$readme_webhook
```

Layout: `adapter.py` (the glue to the core), `options.py` (the configuration section),
`wire.py` (the upstream's JSON format), `client.py` (HTTP and error classification)$readme_routes.

Test: `pytest` runs the handover conformance suite against the adapter
(`tests/test_conformance.py`); see handover's docs/adapters.md.
''')

PYPROJECT = Template('''\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "$package"
version = "0.1.0"
description = "A handover $kind adapter"
requires-python = ">=3.11"
dependencies = ["handover"]

[project.entry-points."handover.adapters"]
$name = "$package.adapter:$cls"

[tool.setuptools.packages.find]
include = ["$package*"]

[tool.pytest.ini_options]
pythonpath = ["."]
testpaths = ["tests"]

[tool.ruff]
line-length = 100
target-version = "py311"

[tool.ruff.lint]
select = ["E", "F", "W", "I", "B", "UP", "RUF", "ASYNC", "SIM"]

[tool.ruff.lint.isort]
known-first-party = ["$package"]

[tool.mypy]
strict = true
''')
