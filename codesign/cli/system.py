"""``codesign system``: the system presets (GPUs, NVLink and scale-out networks)."""

from __future__ import annotations

from typing import Annotated

import typer

from codesign.cli.common import JsonFlag, emit_json

system_app = typer.Typer(no_args_is_help=True, help="System presets (GPUs and networks).")


@system_app.command("list")
def system_list(as_json: JsonFlag = False) -> None:
    """List the system presets."""
    from codesign.hw import SYSTEMS

    rows = [{"name": n, "description": SYSTEMS.get(n).spec.description,  # type: ignore[attr-defined]
             "gpus": SYSTEMS.get(n).spec.gpus} for n in SYSTEMS.names()]  # type: ignore[attr-defined]
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        typer.echo(f"{r['name']:20s} {r['gpus']:6d} GPUs  {r['description']}")


@system_app.command("show")
def system_show(name: Annotated[str, typer.Argument(help="system preset")],
                as_json: JsonFlag = False) -> None:
    """Show a system: GPUs, NVLink, scale-out network and their sources."""
    from codesign.predict import _system

    d = _system(name, "--").describe()
    d.pop("gpu", None)
    if as_json:
        emit_json(d)
        return
    for k, v in d.items():
        typer.echo(f"{k}: {v}")
