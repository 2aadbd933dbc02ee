"""`handover new-adapter NAME --kind channel|bot|desk [--dir DIR]`: a new adapter package.

It writes DIR/NAME/ with the package NAME/ (adapter.py, options.py, wire.py, client.py,
and routes.py for the kinds with an inbound webhook), README.md, pyproject.toml (the
entry point) and tests/test_conformance.py, which runs the conformance suite of
`handover.sdk.conformance` against the adapter. As generated, the adapter passes it.
"""

from __future__ import annotations

import argparse
import keyword
import re
import sys
from pathlib import Path
from string import Template
from types import ModuleType

from handover.cli.adapter_template import bot, channel, common, desk

KINDS: dict[str, ModuleType] = {"channel": channel, "bot": bot, "desk": desk}
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class ScaffoldError(Exception):
    """The name or the target directory cannot be used."""


def class_name(name: str, kind: str) -> str:
    """`acme_chat` + channel -> `AcmeChatChannel` (no doubled suffix)."""
    base = "".join(part.capitalize() for part in name.split("_") if part)
    suffix = kind.capitalize()
    return base if base.endswith(suffix) else base + suffix


def render(name: str, kind: str) -> dict[str, str]:
    """The files of a new adapter package, by path relative to the project directory."""
    if not _NAME.match(name) or keyword.iskeyword(name):
        raise ScaffoldError(
            f"{name!r} is not usable: lowercase letters, digits and _, starting with a letter")
    if kind not in KINDS:
        raise ScaffoldError(f"kind must be one of {', '.join(KINDS)}")
    templates = KINDS[kind]
    has_routes = hasattr(templates, "ROUTES")
    values = {
        "package": name, "cls": class_name(name, kind), "name": name, "kind": kind,
        "idempotent": "False" if kind == "bot" else "True",
        "webhook_token_parse": (
            common.WEBHOOK_OPTION_PARSE if has_routes else common.NO_WEBHOOK_OPTION),
        "readme_webhook": 'webhook_token = "${EXAMPLE_WEBHOOK_TOKEN}"' if has_routes else "",
        "readme_routes": ", `routes.py` (the webhook the upstream calls)" if has_routes else "",
    }

    def fill(template: Template) -> str:
        return template.substitute(values)

    files = {
        f"{name}/__init__.py": f'"""A handover {kind} adapter (type `{name}`)."""\n',
        f"{name}/adapter.py": fill(templates.ADAPTER),
        f"{name}/options.py": fill(common.OPTIONS),
        f"{name}/wire.py": fill(templates.WIRE),
        f"{name}/client.py": fill(common.CLIENT),
        "README.md": fill(common.README),
        "pyproject.toml": fill(common.PYPROJECT),
        "tests/test_conformance.py": fill(templates.TEST),
    }
    if has_routes:
        files[f"{name}/routes.py"] = fill(templates.ROUTES)
    return files


def write_adapter(name: str, kind: str, directory: Path) -> Path:
    """Write the package into `directory / name`; refuses an existing, non-empty one."""
    files = render(name, kind)
    root = directory / name
    if root.exists() and any(root.iterdir()):
        raise ScaffoldError(f"{root} exists and is not empty")
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def cmd_new_adapter(args: argparse.Namespace) -> int:
    try:
        root = write_adapter(args.name, args.kind, Path(args.dir))
    except ScaffoldError as exc:
        print(f"new-adapter: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {root}; next: cd {root} && pip install -e . && pytest", file=sys.stderr)
    return 0


def add_scaffold_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `new-adapter` on the `handover` parser."""
    new = sub.add_parser("new-adapter", help="write a new adapter package from the template")
    new.add_argument("name", help="the package and adapter type name, e.g. acme_desk")
    new.add_argument("--kind", required=True, choices=sorted(KINDS))
    new.add_argument("--dir", default=".", help="where to create the NAME/ directory")
    new.set_defaults(func=cmd_new_adapter)
