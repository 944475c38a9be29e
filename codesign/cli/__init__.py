"""The ``codesign`` command line. Thin: each command calls one library function.

Errors a user can cause print one line, ``error: <field>: <what is wrong>``, on stderr and
exit with code 2; no traceback.

One module per command group (``models``, ``hw``, ``predict``, ``topology``, ``system``,
``eval``, ``calibrate``, ``study``, ``optimize``, ``simulate``); :mod:`codesign.cli.app`
mounts them on the root app and holds :func:`main`; :mod:`codesign.cli.common` holds what
several groups share. Heavy libraries are imported inside the commands, so ``codesign
--help`` stays fast.
"""

from __future__ import annotations

from codesign.cli.app import app, main

__all__ = ["app", "main"]
