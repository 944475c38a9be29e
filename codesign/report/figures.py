"""Figures of one run and of a study: pure functions from data to plotly ``Figure`` objects.

* :func:`plot_layer_breakdown` / :func:`plot_layer_energy`: a :class:`RunResult`'s latency and
  energy per layer, stacked by op kind.
* :func:`plot_roofline`: each distinct op of a run against the device's roofline.
* :func:`plot_study`: a study's tidy table (one row per point), one figure per metric, one
  trace per device.

Plotly is imported inside the functions, so that ``import codesign`` stays light.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from codesign.engines.result import OpRecord, RunResult

#: study metrics: (axis title, higher is better)
METRICS: dict[str, tuple[str, bool]] = {
    "tokens_per_s": ("tokens/s (whole deployment)", True),
    "tokens_per_s_per_device": ("tokens/s per device", True),
    "joules_per_token": ("J/token", False),
    "usd_per_million_tokens": ("$ per million tokens (rental)", False),
    "latency_s": ("step latency (s)", False),
}

_OTHER_LAYER = "other"  # records outside the layers: embedding, final norm, head
_LAYER_PREFIX = re.compile(r"^L\d+\.")


def kind_colours(kinds: Sequence[str]) -> dict[str, str]:
    """A stable colour per op kind (sorted names onto plotly's qualitative palettes)."""
    import plotly.express as px

    palette = px.colors.qualitative.Plotly + px.colors.qualitative.D3
    return {k: palette[i % len(palette)] for i, k in enumerate(sorted(set(kinds)))}


def _layer_label(layer: int | None) -> str:
    return _OTHER_LAYER if layer is None else str(layer)


def _by_layer_and_kind(result: RunResult, attr: str, scale: float) -> tuple[list[str], dict]:
    """Layer labels in order and ``{kind: {layer label: sum of attr * scale}}``."""
    layers = sorted({r.layer for r in result.records},
                    key=lambda k: (k is None, k if k is not None else 0))
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in result.records:
        sums[r.kind][_layer_label(r.layer)] += getattr(r, attr) * scale
    return [_layer_label(k) for k in layers], sums


def _stacked(result: RunResult, attr: str, scale: float, unit: str, title: str) -> Any:
    import plotly.graph_objects as go

    labels, sums = _by_layer_and_kind(result, attr, scale)
    colours = kind_colours(list(sums))
    fig = go.Figure()
    # largest contributor at the bottom of each stack
    for kind in sorted(sums, key=lambda k: -sum(sums[k].values())):
        fig.add_trace(go.Bar(
            name=kind, x=labels, y=[sums[kind].get(lb, 0.0) for lb in labels],
            marker_color=colours[kind],
            hovertemplate=f"layer %{{x}}<br>{kind}: %{{y:.4g}} {unit}<extra></extra>",
        ))
    fig.update_layout(barmode="stack", title=title, legend_title_text="op kind",
                      xaxis_title="layer", yaxis_title=unit)
    fig.update_xaxes(type="category")
    return fig


def _run_label(result: RunResult) -> str:
    m = result.meta
    what = m.get("model", result.graph)
    where = f"{result.device} x{result.world}" if result.world > 1 else result.device
    if "batch" in m:
        return f"{what} {m.get('phase', '')} batch {m['batch']} ctx {m.get('context')}, {where}"
    return f"{what}, {where}"


def plot_layer_breakdown(result: RunResult) -> Any:
    """Stacked bars: per layer, one rank's latency (microseconds) split by op kind.

    The ``other`` bar holds the ops outside the layers (embedding, final norm, LM head).
    """
    return _stacked(result, "latency_s", 1e6, "µs",
                    f"Latency per layer by op kind: {_run_label(result)}")


def plot_layer_energy(result: RunResult) -> Any:
    """Stacked bars: per layer, the energy (joules) of all ``world`` ranks, split by op kind
    (the same totals as :meth:`RunResult.per_layer`)."""
    return _stacked(result, "energy_j", float(result.world), "J",
                    f"Energy per layer by op kind, all {result.world} devices: "
                    f"{_run_label(result)}")


def _distinct_ops(records: Sequence[OpRecord]) -> list[dict[str, Any]]:
    """One entry per distinct op: same name without the layer prefix, kind, FLOPs and bytes
    (the 61 identical attention ops of a model become one marker)."""
    groups: dict[tuple, dict[str, Any]] = {}
    for r in records:
        if r.flops <= 0 or r.dram_bytes <= 0 or r.latency_s <= 0:
            continue  # no point on log-log axes
        name = _LAYER_PREFIX.sub("", r.key)
        g = groups.setdefault((name, r.kind, r.flops, r.dram_bytes), {
            "name": name, "key": r.key, "kind": r.kind, "flops": r.flops,
            "dram_bytes": r.dram_bytes, "latency_s": 0.0, "count": 0, "bounds": set(),
        })
        g["latency_s"] += r.latency_s
        g["count"] += 1
        g["bounds"].add(r.bound)
    out = []
    for g in groups.values():
        lat = g["latency_s"] / g["count"]
        out.append({**g, "latency_s": lat, "bound": "/".join(sorted(g["bounds"])),
                    "intensity": g["flops"] / g["dram_bytes"], "flops_per_s": g["flops"] / lat})
    return out


def _ceilings(device: Any) -> tuple[float | None, dict[str, float]]:
    """(sustained HBM bytes/s, {math class: sustained FLOP/s}) from ``device.describe()``:
    datasheet HBM bandwidth x fitted efficiency, peak x fitted MMA efficiency, for bf16 and
    fp8 where the device has them."""
    info = device.describe()
    eff = info.get("efficiency") or {}
    bw = info.get("hbm_bytes_per_s")
    mem = bw * eff.get("hbm", 1.0) if bw else None
    peaks = info.get("peak_flops") or {}
    mma = eff.get("mma") or {}
    comp = {c: peaks[c] * mma.get(c, 1.0) for c in ("bf16", "fp8") if c in peaks}
    return mem, comp


def plot_roofline(result: RunResult, device: Any) -> Any:
    """Each distinct op of ``result`` at (arithmetic intensity FLOP/byte, achieved FLOP/s),
    both log scale, coloured by kind, under ``device``'s sustained memory roofline and
    compute ceilings. Ops without FLOPs or DRAM bytes (data movement, communication) are
    left out. ``device`` is any device model whose ``describe()`` gives ``peak_flops``,
    ``hbm_bytes_per_s`` and ``efficiency`` (``hbm``, ``mma``); missing ones draw no line."""
    import plotly.graph_objects as go

    ops = _distinct_ops(result.records)
    colours = kind_colours([o["kind"] for o in ops])
    fig = go.Figure()
    for kind in sorted({o["kind"] for o in ops}):
        sel = [o for o in ops if o["kind"] == kind]
        fig.add_trace(go.Scatter(
            name=kind, mode="markers", x=[o["intensity"] for o in sel],
            y=[o["flops_per_s"] for o in sel], marker={"color": colours[kind], "size": 9},
            customdata=[[o["key"], o["bound"], o["count"], o["latency_s"] * 1e6] for o in sel],
            hovertemplate=("%{customdata[0]} (x%{customdata[2]})<br>bound: %{customdata[1]}"
                           "<br>%{x:.3g} FLOP/byte, %{y:.3g} FLOP/s"
                           "<br>%{customdata[3]:.3g} µs<extra>" + kind + "</extra>"),
        ))
    mem, comp = _ceilings(device)
    xs = [o["intensity"] for o in ops] or [1.0]
    x_lo, x_hi = min(xs) / 3, max(xs) * 3
    top = max(comp.values()) if comp else None
    if mem:
        x_end = min(x_hi, top / mem) if top else x_hi
        x_lo = min(x_lo, x_end / 100)
        fig.add_trace(go.Scatter(
            name=f"HBM {mem / 1e12:.2f} TB/s", mode="lines", x=[x_lo, x_end],
            y=[mem * x_lo, mem * x_end], line={"color": "black", "dash": "dash"},
            hovertemplate="memory roof<br>%{x:.3g} FLOP/byte: %{y:.3g} FLOP/s<extra></extra>",
        ))
    if mem and top:
        x_hi = max(x_hi, top / mem * 3)
    for cls, peak in sorted(comp.items()):
        x_start = peak / mem if mem else x_lo
        fig.add_trace(go.Scatter(
            name=f"{cls} {peak / 1e12:.0f} TFLOP/s", mode="lines", x=[x_start, x_hi],
            y=[peak, peak], line={"color": "black" if cls == "fp8" else "grey"},
            hovertemplate=f"{cls} ceiling: %{{y:.3g}} FLOP/s<extra></extra>",
        ))
    fig.update_xaxes(type="log", title_text="arithmetic intensity (FLOP / DRAM byte)")
    fig.update_yaxes(type="log", title_text="achieved FLOP/s (one device)")
    fig.update_layout(title=f"Roofline: {_run_label(result)}", legend_title_text="op kind")
    return fig


def plot_study(df: Any, metrics: Sequence[str] | None = None) -> list[Any]:
    """One figure per metric against batch (log x), one trace per device (per device and
    context when the study has several contexts). Points whose estimated memory does not fit
    the device (``fits_memory`` False, when the column is there) get open markers.

    Args:
        df: a study's tidy table (columns ``hw``, ``batch``, ``context`` and the metrics).
        metrics: columns to plot (default: per-device tokens/s, J/token, $/Mtok).
    """
    import plotly.graph_objects as go

    metrics = list(metrics or ("tokens_per_s_per_device", "joules_per_token",
                               "usd_per_million_tokens"))
    contexts = sorted(df["context"].unique())
    figs = []
    for metric in metrics:
        label = METRICS.get(metric, (metric, True))[0]
        fig = go.Figure()
        for hw in dict.fromkeys(df["hw"]):  # study order
            for ctx in contexts:
                sel = df[(df["hw"] == hw) & (df["context"] == ctx)].sort_values("batch")
                if sel.empty:
                    continue
                fits = sel["fits_memory"] if "fits_memory" in sel else [True] * len(sel)
                name = hw if len(contexts) == 1 else f"{hw} ctx {ctx}"
                fig.add_trace(go.Scatter(
                    name=name, mode="lines+markers", x=sel["batch"], y=sel[metric],
                    marker={"size": 9, "symbol": ["circle" if f else "circle-open"
                                                  for f in fits]},
                    customdata=list(zip(sel["bound"], sel["weight_dtype"], fits, strict=True))
                    if {"bound", "weight_dtype"} <= set(sel.columns) else None,
                    hovertemplate=(f"{name}<br>batch %{{x}}: %{{y:.4g}} {label}"
                                   + ("<br>bound %{customdata[0]}, weights %{customdata[1]}"
                                      "<br>fits memory: %{customdata[2]}"
                                      if "bound" in sel.columns else "")
                                   + "<extra></extra>"),
                ))
        ctx_note = f" (context {contexts[0]})" if len(contexts) == 1 else ""
        fig.update_layout(title=f"{label} vs batch{ctx_note}", legend_title_text="device")
        fig.update_xaxes(type="log", title_text="batch (sequences, whole deployment)")
        fig.update_yaxes(title_text=label)
        figs.append(fig)
    return figs
