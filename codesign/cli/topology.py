"""``codesign topology``: build a network topology; counts, cost and power."""

from __future__ import annotations

from typing import Annotated

import typer

from codesign.cli.common import JsonFlag, check_html_path, emit_json

topology_app = typer.Typer(no_args_is_help=True, help="Network topologies: counts and cost.")


@topology_app.command("build")
def topology_build(
    kind: Annotated[str, typer.Argument(help="ft2, ft3, mpft, mrft, dragonfly, slimfly, "
                                             "hgx-node, nvl72")],
    radix: Annotated[int | None, typer.Option(help="switch radix (ports)")] = None,
    planes: Annotated[int | None, typer.Option(help="planes (mpft)")] = None,
    figure: Annotated[str | None, typer.Option(help="write a plotly figure to this HTML file")]
    = None,
    as_json: JsonFlag = False,
) -> None:
    """Build a topology: endpoints, switches, switch-to-switch links, cost and power."""
    from codesign.hw.topology import build_topology

    if figure:
        check_html_path(figure, "--figure")
    topo = build_topology(kind, radix, planes)
    info = topo.summary()
    if figure:
        from codesign.report.html import figures_to_html, write_atomic

        write_atomic(figure, figures_to_html([topo.figure()], f"{info['name']}"))
    if as_json:
        emit_json(info)
        return
    typer.echo(f"{info['name']}: {info['endpoints']:,} endpoints, {info['switches']:,} switches,"
               f" {info['links']:,} switch links, ${info['cost_usd'] / 1e6:,.1f}M "
               f"(${info['cost_per_endpoint_usd']:,.0f} per endpoint), "
               f"{info['power_w'] / 1e3:,.0f} kW")
