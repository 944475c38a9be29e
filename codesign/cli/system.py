"""``codesign system``: systems of pools of devices, their networks and links."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from codesign.cli.common import JsonFlag, YamlFlag, emit_json, emit_yaml

system_app = typer.Typer(no_args_is_help=True, help="Systems: pools of devices and links.")


@system_app.command("list")
def system_list(as_json: JsonFlag = False) -> None:
    """List the system presets."""
    from codesign.hw import SYSTEMS

    specs = [SYSTEMS.get(n) for n in SYSTEMS.names()]
    rows: list[dict[str, Any]] = [{"name": s.name, "description": s.description,
                                   "gpus": s.devices, "pools": list(s.pools)} for s in specs]
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        typer.echo(f"{r['name']:20s} {r['gpus']:6d} devices  {', '.join(r['pools']):16s} "
                   f"{r['description']}")


@system_app.command("show")
def system_show(name: Annotated[str, typer.Argument(help="system preset or system file")],
                as_json: JsonFlag = False, as_yaml: YamlFlag = False) -> None:
    """Show a system: pools, their devices and networks, links, host, and sources.

    ``--yaml`` writes the system as a file that ``--system FILE`` reads back unchanged.
    """
    from codesign.hw import resolve_system

    system = resolve_system(name, 8, "--system")
    doc = system.spec.model_dump(mode="json", exclude_none=False)
    if as_yaml:
        emit_yaml(doc)
        return
    d = system.describe()
    if as_json:
        emit_json(d)
        return
    for k, v in d.items():
        typer.echo(f"{k}: {v}")
