"""``codesign hw``: the hardware presets and their parameters."""

from __future__ import annotations

from typing import Annotated

import typer

from codesign.cli.common import JsonFlag, YamlFlag, emit_json, emit_yaml

hw_app = typer.Typer(no_args_is_help=True, help="Hardware presets.")


@hw_app.command("list")
def hw_list(as_json: JsonFlag = False) -> None:
    """List the hardware presets."""
    from codesign.hw import HARDWARE, get_device

    rows = []
    for name in HARDWARE.names():
        d = get_device(name).describe()
        rows.append({"name": name, "kind": d["kind"], "description": d["description"],
                     "peak_bf16_flops": d["peak_flops"].get("bf16"),
                     "memory_bytes": d.get("hbm_bytes"),
                     "hbm_bytes_per_s": d.get("hbm_bytes_per_s"),
                     "calibration": d["efficiency"]["source"]})
    if as_json:
        emit_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="codesign hardware")
    for col in ("name", "description", "bf16 TFLOP/s", "memory", "bandwidth"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], r["description"], f"{(r['peak_bf16_flops'] or 0) / 1e12:.0f}",
                      f"{(r['memory_bytes'] or 0) / 1e9:.0f} GB",
                      f"{(r['hbm_bytes_per_s'] or 0) / 1e12:.2f} TB/s")
    Console().print(table)


@hw_app.command("show")
def hw_show(name: Annotated[str, typer.Argument(help="device name or device file")],
            as_json: JsonFlag = False, as_yaml: YamlFlag = False) -> None:
    """Show a device's parameters, their sources and its calibration.

    ``--yaml`` writes the device as a file that ``--hw FILE`` (or a system pool's
    ``device: FILE``) reads back unchanged; edit it to define a hypothetical device.
    """
    from codesign.hw import dump_device, resolve_device

    dev = resolve_device(name)
    if as_yaml:
        emit_yaml(dump_device(dev))
        return
    d = dev.describe()
    if as_json:
        emit_json(d)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{d['name']}: {d['description']}", show_header=False)
    for k in ("sm_count", "clock_hz", "hbm_bytes", "hbm_bytes_per_s", "l2_bytes",
              "nvlink_bytes_per_s"):
        if k in d:
            table.add_row(k, f"{d[k]:,.4g}", d.get("sources", {}).get(k, "").split(";")[0][:90])
    for cls, peak in d.get("peak_flops", {}).items():
        table.add_row(f"peak {cls}", f"{peak / 1e12:,.1f} TFLOP/s", "")
    table.add_row("calibration", str(d.get("calibration", "")),
                  d.get("efficiency", {}).get("source", "")[:90])
    Console().print(table)
