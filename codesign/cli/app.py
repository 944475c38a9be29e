"""The root ``codesign`` app: the command groups mounted on it, and :func:`main`, which turns
the errors a user can cause into one line on stderr and exit code 2."""

from __future__ import annotations

import sys
from typing import Any

import typer

from codesign.cli.calibrate import calibrate_app
from codesign.cli.eval import eval_model
from codesign.cli.hw import hw_app
from codesign.cli.models import models_app
from codesign.cli.optimize import optimize_app
from codesign.cli.predict import predict_app
from codesign.cli.simulate import simulate
from codesign.cli.study import study_app
from codesign.cli.system import system_app
from codesign.cli.topology import topology_app
from codesign.errors import CodesignError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Hardware/accelerator co-design of LLM systems.",
)
# The order of registration is the order ``codesign --help`` lists them in.
app.add_typer(models_app, name="models")
app.add_typer(hw_app, name="hw")
app.add_typer(predict_app, name="predict")
app.add_typer(calibrate_app, name="calibrate")
app.add_typer(study_app, name="study")
app.command("simulate")(simulate)
app.add_typer(optimize_app, name="optimize")
app.add_typer(topology_app, name="topology")
app.add_typer(system_app, name="system")
app.command("eval")(eval_model)


def _click_exceptions() -> Any:
    """The click exception classes typer raises (recent typer vendors click as ``typer._click``)."""
    try:
        from typer._click import exceptions
    except ImportError:  # typer that depends on click itself
        from click import exceptions  # type: ignore[no-redef]
    return exceptions


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning user errors into one line and exit code 2."""
    cx = _click_exceptions()
    command = typer.main.get_command(app)
    try:
        rv = command.main(
            args=argv if argv is not None else sys.argv[1:],
            prog_name="codesign",
            standalone_mode=False,
        )
    except CodesignError as e:
        typer.echo(f"error: {e}", err=True)
        return 2
    except cx.NoArgsIsHelpError as e:  # its message is the help; rich has printed it already
        if e.format_message().strip():
            typer.echo(e.format_message())
        return 0
    except cx.UsageError as e:
        typer.echo(f"error: {' '.join(e.format_message().split())}", err=True)
        return 2
    except typer.Abort:  # not cx.Abort: a vendored typer._click lacks Abort/Exit
        typer.echo("error: aborted", err=True)
        return 130
    except typer.Exit as e:
        return int(e.exit_code or 0)
    return rv if isinstance(rv, int) else 0  # Ctrl-C comes back as 130 here
