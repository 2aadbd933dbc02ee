"""Secret references and example placeholders in the configuration.

Runs over the whole parsed TOML document *before* any section is interpreted (adapter
sections included), so that adapters only ever see final values and the rules below hold
for every key, whoever owns it:

- `"${NAME}"` (the whole string) is replaced by the environment variable NAME.
- `foo_file = "/path"` provides `foo` from the file's content (stripped), for secret keys
  (see `is_secret_key`). Relative paths are relative to the configuration file. Other
  `*_file` keys are left alone: for an adapter, `ca_file` is a path, not a value.
- A secret key (its name contains "token", "secret", "password" or "dsn", or ends in
  "_key") must be a reference or come from a file, never a literal: a configuration file
  is copied, committed and pasted into tickets, the environment and secret files are not.
  It may be a list of up to two values so a token can be rotated without downtime.
- A string like "<the KCC phone number>" is a placeholder left from the example file.

Issue messages never contain a secret's value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from handover.sdk.options import Issues, index, join, type_name

SECRET_WORDS = ("token", "secret", "password", "dsn")
#: The current value and the previous one, while clients move over.
MAX_ROTATION_VALUES = 2

_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_FILE_SUFFIX = "_file"


def is_secret_key(key: str) -> bool:
    """Whether a key's value must come from the environment or a file.

    `*_seconds` keys are exempt (`token_ttl_seconds = "1h"` is a duration, not a token),
    and so are the `*_file` keys themselves (the path is not the secret).
    """
    name = key.lower()
    if name.endswith(("_seconds", _FILE_SUFFIX)):
        return False
    return any(word in name for word in SECRET_WORDS) or name.endswith("_key")


def is_placeholder(value: str) -> bool:
    """Whether a string is a "<...>" placeholder from the example configuration."""
    return len(value) >= 2 and value.startswith("<") and value.endswith(">")


@dataclass(frozen=True, slots=True)
class Resolved:
    """The document with references resolved.

    Values that could not be resolved are left out (and their paths suppressed in the
    Issues, which already hold the reason). `env_paths` are the paths whose value came
    from an environment variable.
    """

    data: dict[str, Any]
    env_paths: frozenset[str]


class _Failed:
    """Marks a value that could not be resolved (its issue is already recorded)."""


_FAILED = _Failed()


def resolve_references(
    data: Mapping[str, Any], *, base_dir: Path, env: Mapping[str, str], issues: Issues
) -> Resolved:
    """Resolve `${NAME}` references and `*_file` keys, refuse literal secrets and
    placeholders, recording every problem in `issues`."""
    resolver = _Resolver(base_dir, env, issues)
    return Resolved(resolver.table(data, ""), frozenset(resolver.env_paths))


class _Resolver:
    def __init__(self, base_dir: Path, env: Mapping[str, str], issues: Issues) -> None:
        self.base_dir = base_dir
        self.env = env
        self.issues = issues
        self.env_paths: set[str] = set()

    def fail(self, path: str, message: str) -> _Failed:
        self.issues.add(path, message)
        self.issues.suppress(path)
        return _FAILED

    def table(self, table: Mapping[str, Any], path: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in table.items():
            key_path = join(path, key)
            target = key[: -len(_FILE_SUFFIX)]
            if key.endswith(_FILE_SUFFIX) and target and is_secret_key(target):
                if target in table:
                    self.fail(key_path, f"give either {target} or {key}, not both")
                    continue
                from_file = self.secret_file(value, key_path)
                if isinstance(from_file, _Failed):
                    # `foo` is now missing: a "foo: required" would only repeat this.
                    self.issues.suppress(join(path, target))
                else:
                    out[target] = from_file
                continue
            resolved = self.value(value, key_path, key)
            if not isinstance(resolved, _Failed):
                out[key] = resolved
        return out

    def value(self, value: Any, path: str, key: str) -> Any:
        if isinstance(value, Mapping):
            return self.table(value, path)
        if isinstance(value, list):
            return self.array(value, path, key)
        if isinstance(value, str):
            return self.string(value, path, key if is_secret_key(key) else None)
        return value

    def array(self, values: list[Any], path: str, key: str) -> list[Any] | _Failed:
        secret = is_secret_key(key)
        if secret and len(values) > MAX_ROTATION_VALUES:
            return self.fail(
                path,
                f"at most {MAX_ROTATION_VALUES} values (the current and the previous one, "
                f"for rotation), got {len(values)}",
            )
        out: list[Any] = []
        failed = False
        for i, item in enumerate(values):
            item_path = index(path, i)
            if isinstance(item, str):
                resolved: Any = self.string(item, item_path, key if secret else None)
            elif isinstance(item, Mapping):
                resolved = self.table(item, item_path)
            elif isinstance(item, list):
                resolved = self.array(item, item_path, key)
            else:
                resolved = item
            failed = failed or isinstance(resolved, _Failed)
            out.append(resolved)
        if failed:
            # Dropping only the bad element would shift the indexes of the others in
            # later messages; the whole array is left out instead.
            self.issues.suppress(path)
            return _FAILED
        return out

    def string(self, value: str, path: str, secret_key: str | None) -> str | _Failed:
        """Resolve one string; `secret_key` is the key's name when it holds a secret."""
        if is_placeholder(value):
            return self.fail(path, "placeholder from the example: replace it")
        match = _REFERENCE.match(value)
        if match:
            name = match.group(1)
            if name not in self.env:
                return self.fail(path, f"environment variable {name} is not set")
            resolved = self.env[name]
            if secret_key is not None and not resolved.strip():
                return self.fail(path, f"environment variable {name} is empty")
            self.env_paths.add(path)
            return resolved
        if "${" in value:
            # Likely `dsn = "postgresql://u:${PW}@db/handover"`: there is no interpolation,
            # and calling it a "literal secret" would be confusing.
            return self.fail(
                path,
                'a reference must be the whole value, like "${NAME}"; text around it is not '
                "substituted",
            )
        if secret_key is not None:
            return self.fail(
                path,
                f"secrets must come from the environment: use ${{VAR}} or {secret_key}_file",
            )
        return value

    def secret_file(self, value: Any, path: str) -> str | list[str] | _Failed:
        """The content of the file(s) named by a `*_file` key: one path or a rotation
        list of up to two."""
        if isinstance(value, str):
            return self.read(value, path)
        if isinstance(value, list):
            if not 1 <= len(value) <= MAX_ROTATION_VALUES:
                return self.fail(
                    path, f"expected 1 or {MAX_ROTATION_VALUES} file names, got {len(value)}"
                )
            out: list[str] = []
            for i, item in enumerate(value):
                if not isinstance(item, str):
                    return self.fail(index(path, i), f"expected string, got {type_name(item)}")
                content = self.read(item, index(path, i))
                if isinstance(content, _Failed):
                    self.issues.suppress(path)
                    return _FAILED
                out.append(content)
            return out
        return self.fail(path, f"expected string (a file name), got {type_name(value)}")

    def read(self, name: str, path: str) -> str | _Failed:
        # The file name itself may be a reference (`${CREDENTIALS_DIRECTORY}` style
        # setups put the whole path in the environment).
        file_name = self.string(name, path, None)
        if isinstance(file_name, _Failed):
            return file_name
        file = Path(file_name).expanduser()
        if not file.is_absolute():
            file = self.base_dir / file
        try:
            content = file.read_text(encoding="utf-8").strip()
        except UnicodeDecodeError:
            return self.fail(path, f"cannot read {file}: not UTF-8 text")
        except OSError as exc:
            return self.fail(path, f"cannot read {file}: {exc.strerror or exc}")
        if not content:
            return self.fail(path, f"{file} is empty")
        return content
