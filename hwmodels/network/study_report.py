"""Run a network co-design study (``kind: network``): cost sweep, decode bound, multi-plane.

Registered as the ``network`` runner in ``codesign.study.kinds.STUDY_RUNNERS``. The numbers
come from :mod:`hwmodels.network.study` (pure functions); this module assembles the
table, the summary and the report page, and writes the same four files as a model study
(``results.parquet``: the cost sweep, one row per topology and radix; ``summary.json``: the
TPOT table and the multi-plane findings; ``study.yaml``: the spec snapshot; ``report.html``),
all at once through a temporary folder, like :func:`codesign.study.runner.run_study`.
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from codesign.errors import SpecError
from codesign.study.kinds import STUDY_RUNNERS
from codesign.study.spec import NetworkStudySpec

NOTES = (
    "Fabric cost and power cover switches, switch-to-switch optics and fibres and endpoint "
    "cables (NICs apart), from estimated unit prices calibrated on DeepSeek's Table 3; counts "
    "are closed-form (no graph is built).",
    "Decode bound: dual micro-batch overlap with computation fully hidden, so a layer takes "
    "twice one dispatch plus one combine; it bounds the time per output token from below.",
    "Codesign-model rows use hwmodels.network.ep.ep_estimate: NVLink collectives calibrated "
    "on NCCL (4 x H200) and scaled; scale-out figures are estimates (no multi-node machine "
    "was measured).",
)


@dataclass
class NetworkStudyResult:
    """What a network study run produced; ``table`` is the cost sweep (pandas DataFrame)."""

    spec: NetworkStudySpec
    table: Any
    summary: dict[str, Any]
    out_dir: Path

    @property
    def report_path(self) -> Path:
        return self.out_dir / "report.html"


def evaluate_network_study(spec: NetworkStudySpec) -> tuple[Any, dict[str, Any]]:
    """The cost sweep (DataFrame) and the summary's findings (no files)."""
    from hwmodels.network.study import (
        cost_sweep,
        multi_plane_effects,
        paper_tpot_check,
        tpot_explanation,
        tpot_table,
    )

    t = spec.tpot
    df = cost_sweep(spec.radices, spec.planes, spec.topologies)
    model = {"tokens_per_device": t.tokens_per_device, "layers": t.layers,
             "experts_per_token": t.experts_per_token}
    paper = paper_tpot_check(**model)
    table = tpot_table(t.scale_out_system, t.scale_out_ep, t.scale_up_system, t.scale_up_ep,
                       spec.planes, hidden=t.hidden, max_nodes=t.max_nodes, **model)
    mp = multi_plane_effects(spec.multi_plane_radix, spec.planes, system=t.scale_out_system,
                             ep=t.scale_out_ep, hidden=t.hidden, **model)
    cheapest = []
    for radix, grp in df.groupby("radix", sort=True):
        row = grp.loc[grp["cost_per_endpoint_usd"].idxmin()]
        cheapest.append({"radix": int(radix), "topology": row["topology"],
                         "endpoints": int(row["endpoints"]),
                         "cost_per_endpoint_usd": float(row["cost_per_endpoint_usd"])})
    found = {
        "cost_sweep": {"rows": len(df), "skipped": df.attrs.get("skipped", []),
                       "cheapest_per_endpoint": cheapest},
        "tpot": {"paper_check": paper, "systems": table,
                 "explanation": tpot_explanation(paper, table, t.hidden)},
        "multi_plane": mp,
    }
    return df, found


# ------------------------------------------------------------------------------ figures
def plot_cost_per_endpoint(df: Any) -> Any:
    """Fabric cost per endpoint against endpoints (log x), one trace per topology."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for kind in dict.fromkeys(df["topology"]):
        sel = df[df["topology"] == kind].sort_values("endpoints")
        fig.add_trace(go.Scatter(
            name=kind, mode="lines+markers+text", x=sel["endpoints"],
            y=sel["cost_per_endpoint_usd"], text=[f"r{r}" for r in sel["radix"]],
            textposition="top center", customdata=list(zip(sel["name"], sel["switches"],
                                                            sel["links"], strict=True)),
            hovertemplate=("%{customdata[0]}: %{x:,} endpoints<br>$%{y:,.0f} per endpoint"
                           "<br>%{customdata[1]:,} switches, %{customdata[2]:,} links"
                           "<extra></extra>"),
        ))
    fig.update_layout(title="Fabric cost per endpoint vs endpoints (labels: switch radix)",
                      legend_title_text="topology")
    fig.update_xaxes(type="log", title_text="endpoints (GPUs)")
    fig.update_yaxes(title_text="fabric cost per endpoint (USD)")
    return fig


def plot_tpot(paper: Sequence[dict[str, Any]], systems: Sequence[dict[str, Any]]) -> Any:
    """Tokens/s (1/TPOT, log y) per interconnect: the formula, the codesign model and its
    bandwidth part; the paper's printed figures on the first and last bars."""
    import plotly.graph_objects as go

    x = [r["interconnect"] for r in systems]
    fig = go.Figure()

    def per_s(ms: float | None) -> float | None:
        return 1e3 / ms if ms else None

    series = [
        ("formula on line rate", [r["formula_tpot_ms"] for r in systems]),
        ("codesign EP model", [r["model_tpot_ms"] for r in systems]),
        ("model, bandwidth part only", [r["model_bandwidth_tpot_ms"] for r in systems]),
    ]
    paper_ms: list[float | None] = [None] * len(systems)
    paper_ms[0], paper_ms[-1] = paper[0]["paper_tpot_ms"], paper[-1]["paper_tpot_ms"]
    series.insert(0, ("paper (printed)", paper_ms))
    for name, ms in series:
        fig.add_trace(go.Bar(
            name=name, x=x, y=[per_s(m) for m in ms],
            text=[f"{m:.2f} ms" if m else "" for m in ms], textposition="outside",
            customdata=[m if m else float("nan") for m in ms],
            hovertemplate=f"{name}<br>%{{x}}: %{{y:,.0f}} tokens/s"
                          "<br>TPOT %{customdata:.3f} ms<extra></extra>",
        ))
    fig.update_layout(barmode="group", title="Decode bound per interconnect: tokens/s "
                      "(1 / TPOT), labels TPOT", legend_title_text="estimate")
    fig.update_yaxes(type="log", title_text="tokens/s per sequence (upper bound)")
    return fig


def plot_multi_plane(mp: dict[str, Any]) -> list[Any]:
    """The multi-plane fabric against single-plane ones (cost, switches, failure), and EP
    times healthy and with a failed plane."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    rows = mp["fabrics"]
    names = [r["name"] for r in rows]
    panels = [("cost per endpoint (USD)", "cost_per_endpoint_usd", 1.0),
              ("switches per 1k endpoints", "switches_per_1k_endpoints", 1.0),
              ("scale-out bandwidth left, 1 plane failed (%)",
               "bandwidth_left_one_failed_plane", 100.0),
              ("GPUs cut off by 1 leaf failure", "gpus_cut_off_by_one_leaf_failure", 1.0)]
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[p[0] for p in panels])
    for i, (title, key, scale) in enumerate(panels, start=1):
        fig.add_trace(go.Bar(x=names, y=[r[key] * scale for r in rows], showlegend=False,
                             marker_color=["#636efa", "#ef553b", "#00cc96"][:len(rows)],
                             hovertemplate=f"%{{x}}<br>{title}: %{{y:,.4g}}<extra></extra>"),
                      row=1, col=i)
    fig.update_layout(title=f"{mp['planes']}-plane fat tree vs single-plane fabrics, radix "
                            f"{mp['radix']}, {mp['endpoints']:,} endpoints")

    ep = mp["ep"]
    labels = {"multi_plane": f"{mp['planes']} planes", "multi_plane_1_failed":
              f"{mp['planes']} planes, 1 failed", "single_plane": "1 plane",
              "single_plane_failed": "1 plane, failed"}
    fig2 = make_subplots(rows=1, cols=2, subplot_titles=[
        "EP dispatch and combine per micro-batch (us)",
        "flow model: slowdown of a cross-server exchange, 1 plane failed"])
    for phase in ("dispatch_s", "combine_s"):
        fig2.add_trace(go.Bar(
            name=phase[:-2], x=[labels[k] for k in ep],
            y=[v[phase] * 1e6 if v[phase] is not None else None for v in ep.values()],
            text=["" if v[phase] is not None else "no scale-out" for v in ep.values()],
            hovertemplate=f"%{{x}}<br>{phase[:-2]}: %{{y:.1f}} us<extra></extra>"),
            row=1, col=1)
    fc = mp.get("flow_check")
    if fc:
        fig2.add_trace(go.Bar(
            name="slowdown", showlegend=False,
            x=["perfect spread (analytical)", "one ECMP path per flow"],
            y=[fc["ideal_slowdown"], fc["slowdown"]],
            hovertemplate="%{x}: %{y:.2f}x<extra></extra>"), row=1, col=2)
    fig2.update_layout(barmode="stack", title="What a failed plane costs expert parallelism")
    return [fig, fig2]


# ------------------------------------------------------------------------------ page
def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool) or not isinstance(v, int | float):
        return str(v)
    if isinstance(v, int) or abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.4g}"


def _table_html(rows: Sequence[dict[str, Any]], columns: dict[str, str]) -> str:
    head = "".join(f"<th>{html.escape(label)}</th>" for label in columns.values())
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>"
                                    for c in columns) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _list_html(items: Sequence[str]) -> str:
    return "<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in items) + "</ul>"


_STYLE = ("body{font-family:sans-serif;max-width:1200px;margin:auto;padding:1em}"
          "table{border-collapse:collapse;font-size:90%}"
          "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}")
_TPOT_COLUMNS = {
    "interconnect": "interconnect", "ep": "EP", "bytes_per_s": "bytes/s per GPU",
    "formula_comm_per_layer_us": "formula comm/layer (us)", "formula_tpot_ms":
    "formula TPOT (ms)", "model_dispatch_us": "model dispatch (us)", "model_combine_us":
    "model combine (us)", "model_fixed_us": "model fixed (us)", "model_tpot_ms":
    "model TPOT (ms)", "model_bandwidth_tpot_ms": "model bandwidth part (ms)",
    "model_tokens_per_s": "model tokens/s", "model_bottleneck": "bottleneck",
}
_PAPER_COLUMNS = {
    "interconnect": "interconnect", "bytes_per_s": "bytes/s per GPU",
    "comm_per_layer_us": "comm/layer (us)", "paper_comm_per_layer_us": "paper (us)",
    "tpot_ms": "TPOT (ms)", "paper_tpot_ms": "paper (ms)", "tokens_per_s": "tokens/s",
    "paper_tokens_per_s": "paper tokens/s",
}
_FABRIC_COLUMNS = {
    "name": "fabric", "endpoints": "endpoints", "switches": "switches", "links": "links",
    "switch_tiers": "tiers", "cost_per_endpoint_usd": "USD/endpoint",
    "power_per_endpoint_w": "W/endpoint", "bandwidth_left_one_failed_plane":
    "bandwidth left, 1 plane failed", "gpus_cut_off_by_one_leaf_failure":
    "GPUs cut off by a leaf failure", "note": "note",
}
_SWEEP_COLUMNS = {
    "name": "fabric", "radix": "radix", "endpoints": "endpoints", "switches": "switches",
    "links": "links", "cost_per_endpoint_usd": "USD/endpoint",
    "power_per_endpoint_w": "W/endpoint",
}


def network_page_html(spec: NetworkStudySpec, df: Any, found: dict[str, Any]) -> str:
    """The report page: findings, figures (plotly.js inlined once) and tables."""
    import plotly.io as pio

    tpot, mp = found["tpot"], found["multi_plane"]
    sections: list[tuple[str, list[str], list[Any], str]] = [
        ("Cost per endpoint", [], [plot_cost_per_endpoint(df)],
         _table_html(df.to_dict("records"), _SWEEP_COLUMNS)),
        ("Decode time per output token, expert parallelism", tpot["explanation"],
         [plot_tpot(tpot["paper_check"], tpot["systems"])],
         _table_html(tpot["paper_check"], _PAPER_COLUMNS)
         + "<p></p>" + _table_html(tpot["systems"], _TPOT_COLUMNS)),
        ("What a multi-plane network changes", mp["findings"], plot_multi_plane(mp),
         _table_html(mp["fabrics"], _FABRIC_COLUMNS)),
    ]
    title = f"Study {spec.name}"
    parts = [f"<h1>{html.escape(title)}</h1>", f"<p>{html.escape(spec.description)}</p>",
             _list_html(NOTES)]
    first = True
    for heading, findings, figs, table in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        if findings:
            parts.append(_list_html(findings))
        for fig in figs:
            parts.append(pio.to_html(fig, full_html=False, include_plotlyjs=first))
            first = False
        parts.append(table)
    body = "\n".join(parts)
    return ("<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>\n"
            f"{body}\n</body></html>\n")


def run_network_study(spec: BaseModel, out_dir: str | Path, progress: bool = False,
                      overwrite: bool = False) -> NetworkStudyResult:
    """Evaluate ``spec`` and write the four files into ``out_dir`` (see the module docstring;
    ``out_dir`` rules as :func:`codesign.study.runner.run_study`). ``progress`` is accepted
    for symmetry; the study takes about a second.

    Raises:
        SpecError: ``spec`` is not a :class:`NetworkStudySpec`; ``out_dir`` as in
            ``run_study``.
    """
    import codesign
    from codesign.study.runner import check_out_dir, write_study_outputs

    if not isinstance(spec, NetworkStudySpec):
        raise SpecError("kind", f"a {type(spec).__name__} is not a network study")

    out = Path(out_dir)
    check_out_dir(out, overwrite, spec.name)
    t0 = time.perf_counter()
    df, found = evaluate_network_study(spec)
    page = network_page_html(spec, df, found)
    summary = {
        "study": spec.name, "kind": "network", "description": spec.description,
        "codesign_version": codesign.__version__,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "runtime_s": round(time.perf_counter() - t0, 3), "points": len(df), **found,
        "spec": spec.model_dump(mode="json"),
    }
    write_study_outputs(out, spec, df, summary, page)
    return NetworkStudyResult(spec, df, summary, out)


STUDY_RUNNERS.register("network", lambda: run_network_study)
