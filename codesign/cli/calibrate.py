"""``codesign calibrate``: measure a GPU and fit a calibration, or fit one to earlier
measurements."""

from __future__ import annotations

from typing import Annotated

import typer

calibrate_app = typer.Typer(no_args_is_help=True, help="Calibrate hardware models.")


@calibrate_app.command("gpu")
def calibrate_gpu(
    out: Annotated[str, typer.Option(help="folder for measurements and calibration.json")],
    datasheet: Annotated[str, typer.Option(help="datasheet of the card measured")] = "h100-sxm",
    quick: Annotated[bool, typer.Option(help="a few cases per suite (smoke test)")] = False,
) -> None:
    """Measure this machine's GPU (PyTorch, the gpu extra) and fit a calibration."""
    from codesign.hw.calibration import CALIBRATORS

    path = CALIBRATORS.get("gpu").measure(out, datasheet, quick)
    typer.echo(f"calibration written to {path}; use it as --hw {path}")


@calibrate_app.command("fit")
def calibrate_fit(
    data: Annotated[str, typer.Option(help="folder of microbenchmark measurements")],
    out: Annotated[str, typer.Option(help="calibration JSON to write")],
    datasheet: Annotated[str, typer.Option(help="datasheet of the card measured")] = "h100-sxm",
) -> None:
    """Fit a calibration to measurements taken earlier (no GPU needed)."""
    from codesign.hw.calibration import CALIBRATORS

    path = CALIBRATORS.get("gpu").fit(data, out, datasheet)
    typer.echo(f"calibration written to {path}")
