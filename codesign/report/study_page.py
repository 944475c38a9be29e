"""A study's report: one self-contained HTML page (plotly.js inlined once, works offline)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from codesign.engines.result import RunResult
from codesign.report.figures import (
    METRICS,
    plot_layer_breakdown,
    plot_layer_energy,
    plot_roofline,
    plot_study,
)

_TABLE_COLUMNS = {
    "hw": "device", "batch": "batch", "context": "context", "weight_dtype": "weights",
    "latency_s": "step (ms)", "tokens_per_s_per_device": "tok/s/device",
    "joules_per_token": "J/token", "usd_per_million_tokens": "$/Mtok", "bound": "bound",
    "memory_gb_per_device": "memory (GB, lower bound)", "fits_memory": "fits",
}
_STYLE = ("body{font-family:sans-serif;max-width:1200px;margin:auto;padding:1em}"
          "table{border-collapse:collapse;font-size:90%}"
          "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
          ".nofit{color:#999}")


def _table_html(df: Any) -> str:
    cols = [c for c in _TABLE_COLUMNS if c in df.columns]
    head = "".join(f"<th>{html.escape(_TABLE_COLUMNS[c])}</th>" for c in cols)
    rows = []
    for rec in df[cols].to_dict("records"):
        cells = []
        for c in cols:
            v = rec[c]
            if c == "latency_s":
                v = f"{v * 1e3:.3f}"
            elif isinstance(v, float):
                v = f"{v:.4g}"
            cells.append(f"<td>{html.escape(str(v))}</td>")
        cls = "" if rec.get("fits_memory", True) else " class='nofit'"
        rows.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _best_html(best: dict[str, Any]) -> str:
    items = []
    for metric, b in best.items():
        label = METRICS.get(metric, (metric, True))[0]
        if b is None:
            items.append(f"<li>{html.escape(label)}: no point fits memory</li>")
            continue
        items.append(f"<li>{html.escape(label)}: <b>{html.escape(b['hw'])}</b> "
                     f"({b['value']:.4g} at batch {b['batch']}, context {b['context']})</li>")
    return f"<ul>{''.join(items)}</ul>"


def study_page_html(
    title: str,
    description: str,
    df: Any,
    metrics: Sequence[str],
    best: dict[str, Any],
    reference: RunResult,
    device: Any,
    notes: Sequence[str] = (),
) -> str:
    """The report page of a study.

    Args:
        title, description: page heading and the study's question (plain text, escaped).
        df: the study's tidy table; metrics: its columns to plot.
        best: per metric, the best point (``{hw, batch, context, value}``) or None.
        reference: the run broken down per layer and on ``device``'s roofline.
        notes: caveats shown under the description (plain text).
    """
    import plotly.io as pio

    sections: list[tuple[str, list[Any]]] = [
        ("Devices compared", plot_study(df, metrics)),
        (f"Reference point: {reference.device}, batch {reference.meta.get('batch')}, "
         f"context {reference.meta.get('context')}",
         [plot_layer_breakdown(reference), plot_layer_energy(reference),
          plot_roofline(reference, device)]),
    ]
    parts = [f"<h1>{html.escape(title)}</h1>", f"<p>{html.escape(description)}</p>"]
    if notes:
        parts.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    parts += ["<h2>Best device per metric</h2>", _best_html(best)]
    first = True
    for heading, figs in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        for fig in figs:
            parts.append(pio.to_html(fig, full_html=False, include_plotlyjs=first))
            first = False
    parts += ["<h2>All points</h2>", _table_html(df)]
    body = "\n".join(parts)
    return ("<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>\n"
            f"{body}\n</body></html>\n")
