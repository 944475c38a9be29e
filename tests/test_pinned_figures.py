"""Pinned figures: ``codesign eval`` and ``codesign simulate`` still give the numbers they gave
at the commit recorded in ``tests/data/pinned_figures.json``, to 1e-9 relative.

The test only reads the JSON; it never recomputes the baseline. To re-pin after an intended
change of results, run ``python tests/data/make_pinned.py`` and say why in the commit.

Since the system contract landed, ``eval`` (and ``simulate``, since serving runs on the DES
engine's resources) adds the network's share to energy (NIC and switch power over the pass or
run) and cost (amortized network hardware): the figures of the devices alone
(``energy.devices_j``, ``cost.devices_usd_per_hour``) must still equal the pinned ones, and
latency and throughput are compared whole. A case's ``moved`` entries are figures that moved
on purpose, each with its new value and the reason.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from codesign.cli import app

pytestmark = pytest.mark.integration

PINNED_PATH = Path(__file__).parent / "data" / "pinned_figures.json"
PINNED: dict[str, Any] = json.loads(PINNED_PATH.read_text())
REL_TOL = 1e-9


def _figure(out: dict[str, Any], key: str) -> Any:
    """``out[key]``, where a dotted key reads a nested value (``ttft_s.p50``)."""
    v: Any = out
    for part in key.split("."):
        v = v[part]
    return v


def test_pinned_file_records_its_baseline() -> None:
    assert len(PINNED["commit"]) == 40 and int(PINNED["commit"], 16) >= 0
    assert PINNED["date"]
    assert PINNED["cases"], "no pinned cases"
    ids = [c["id"] for c in PINNED["cases"]]
    assert len(set(ids)) == len(ids)


def _devices_only(out: dict[str, Any], key: str) -> Any:
    """The figure as the devices alone give it (eval's energy and cost splits), or as is."""
    v = _figure(out, key)
    energy, cost = out.get("energy"), out.get("cost")
    if key in ("energy_j", "joules_per_token") and isinstance(energy, dict):
        return v * energy["devices_j"] / out["energy_j"]
    if key == "usd_per_million_tokens" and isinstance(cost, dict):
        return v * cost["devices_usd_per_hour"] / sum(
            cost[k] for k in ("devices_usd_per_hour", "network_usd_per_hour",
                              "host_usd_per_hour"))
    return v


@pytest.mark.parametrize("case", PINNED["cases"], ids=[c["id"] for c in PINNED["cases"]])
def test_pinned_figures(case: dict[str, Any]) -> None:
    res = CliRunner().invoke(app, case["argv"])
    assert res.exit_code == 0, (
        f"codesign {' '.join(case['argv'])} failed: {res.exception!r}\n{res.output[-2000:]}")
    out = json.loads(res.stdout)
    diffs = []
    moved = case.get("moved", {})
    for key, pinned in case["figures"].items():
        got = _devices_only(out, key)
        if key in moved:
            pinned = moved[key]["value"]
            got = _figure(out, key)
        if not math.isclose(got, pinned, rel_tol=REL_TOL):
            diffs.append(f"{key}: got {got!r}, pinned {pinned!r} "
                         f"(rel {abs(got - pinned) / max(abs(pinned), 1e-300):.3e})")
    assert not diffs, (f"{case['id']} differs from commit {PINNED['commit'][:12]}:\n  "
                       + "\n  ".join(diffs))
