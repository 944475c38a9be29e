"""Shared pieces of the command groups: option types, JSON output and file-path checks.

Light on purpose: only typer and :mod:`codesign.errors` at import time, so ``codesign --help``
stays fast. Anything heavier is imported inside the function that needs it.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from codesign.errors import SpecError

JsonFlag = Annotated[bool, typer.Option("--json", help="JSON output")]
YamlFlag = Annotated[bool, typer.Option(
    "--yaml", help="YAML document that --hw FILE / --system FILE reads back unchanged")]
HwOpt = Annotated[str, typer.Option("--hw", help="device name (codesign hw list) or file")]
SystemOpt = Annotated[str | None, typer.Option(
    "--system", help="system preset (codesign system list) or system file")]


def emit_yaml(data: Any) -> None:
    """Print ``data`` as a YAML document, keys in their order."""
    import yaml

    typer.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), nl=False)


def emit_json(data: Any) -> None:
    """Print ``data`` as indented JSON, keys in their order."""
    typer.echo(json.dumps(data, indent=2, sort_keys=False))


def check_html_path(path: str, flag: str) -> None:
    """Fail early, naming ``flag``, when ``path`` is a folder or its folder does not exist."""
    from pathlib import Path

    p = Path(path)
    if p.is_dir() or not (p.parent if str(p.parent) else Path(".")).is_dir():
        raise SpecError(flag, f"cannot write {path!r}: not a file in an existing folder")


def check_output_file(flag: str, path: str) -> None:
    """Fail early, naming ``flag``, when ``path`` cannot be a new or replaced file."""
    from pathlib import Path

    p = Path(path)
    if p.is_dir():
        raise SpecError(flag, f"{path!r} is a folder, not a file")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise SpecError(flag, f"folder {str(folder)!r} does not exist")

