"""Run a study: evaluate every (device, batch, context) point, write table, summary, report.

Everything is computed in memory first; the files are then written into a temporary folder
beside ``out_dir`` and renamed into place, so a failure leaves no half-written output.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codesign.engines.result import RunResult
from codesign.errors import SpecError
from codesign.ir.dtypes import DType
from codesign.report.figures import METRICS
from codesign.study.spec import AnyStudySpec, StudySpec

if TYPE_CHECKING:
    from codesign.hw.device import DeviceModel
    from codesign.ir.models import ModelConfig
    from codesign.study.kinds import StudyOutcome

#: the files a run writes (and the only ones ``overwrite`` may replace)
OUTPUT_FILES = ("results.parquet", "summary.json", "study.yaml", "report.html")

#: table columns, in order
COLUMNS = (
    "hw", "batch", "context", "model", "phase", "weight_dtype", "tp", "dp", "ep",
    "redundant_experts", "world", "tokens", "latency_s", "tokens_per_s",
    "tokens_per_s_per_device", "joules_per_token", "usd_per_million_tokens", "energy_j",
    "bound", "memory_gb_per_device", "device_memory_gb", "fits_memory",
)

NOTES = (
    "Open markers and grey rows: the device's memory cannot hold this rank's weights and KV "
    "cache (a lower bound that leaves out activations and buffers, so a point marked as "
    "fitting may still not fit).",
    "Summary 'best' values count only points that fit memory.",
)


@dataclass
class StudyResult:
    """What a study run produced. ``table`` is the tidy pandas DataFrame (one row per point)."""

    spec: StudySpec
    table: Any
    summary: dict[str, Any]
    reference: RunResult
    out_dir: Path

    @property
    def report_path(self) -> Path:
        return self.out_dir / "report.html"


def _previous_run_of(out: Path) -> str | None:
    """The study name recorded in ``out/summary.json``, if a study wrote it."""
    try:
        return str(json.loads((out / "summary.json").read_text())["study"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def check_out_dir(out: Path, overwrite: bool, study: str) -> None:
    """A folder is replaced when it holds only a previous run of the same study (re-running a
    study refreshes its output) or when ``overwrite`` is given; never when it holds files a
    study did not write."""
    if out.exists() and not out.is_dir():
        raise SpecError("out_dir", f"{str(out)!r} is a file, not a folder")
    if not out.is_dir():
        return
    present = sorted(p.name for p in out.iterdir())
    if present and not overwrite and _previous_run_of(out) != study:
        raise SpecError("out_dir", f"{str(out)!r} is not empty (pass overwrite to replace it)")
    foreign = [n for n in present if n not in OUTPUT_FILES]
    if foreign:
        raise SpecError("out_dir", f"{str(out)!r} holds files a study did not write "
                        f"({', '.join(foreign[:3])}); refusing to replace it")


def _weight_dtype(cfg: ModelConfig, device: DeviceModel, spec: StudySpec, hw: str) -> DType:
    """The model's weight format, or the fallback where ``device`` cannot compute in it."""
    if device.supports_dtype(cfg.weight_dtype):
        return cfg.weight_dtype
    if spec.weight_dtype_fallback is None:
        raise SpecError("weight_dtype_fallback", f"{hw} cannot compute in {cfg.name}'s "
                        f"{cfg.weight_dtype} weights; set a fallback format")
    fb = DType.parse(spec.weight_dtype_fallback, "weight_dtype_fallback")
    if not device.supports_dtype(fb):
        raise SpecError("weight_dtype_fallback", f"{hw} cannot compute in {fb} either")
    return fb


def _evaluate(spec: StudySpec, cfg: ModelConfig, hw: str, batch: int, context: int,
              wd: DType) -> RunResult:
    from codesign.evaluate import evaluate_model
    from codesign.hw import HARDWARE

    m = spec.mapping
    where: dict[str, Any] = {"hw": hw} if hw in HARDWARE else {"system": hw}
    return evaluate_model(
        spec.model, spec.phase, batch, context, **where, tp=m.tp, dp=m.dp, ep=m.ep,
        redundant_experts=m.redundant_experts,
        weight_dtype=None if wd == cfg.weight_dtype else wd.value, ignore_memory=True,
    )


def _row(spec: StudySpec, cfg: ModelConfig, r: RunResult, wd: DType,
         device: DeviceModel, hw: str) -> dict[str, Any]:
    s = r.summary()
    m = spec.mapping
    pools = r.meta["memory"].values()  # per pool: weights, KV and activations per device
    mem = max(float(p["required_bytes"]) for p in pools)
    fits = all(bool(p["fits"]) for p in pools)
    row = {k: s[k] for k in ("batch", "context", "model", "phase", "world", "tokens",
                             "latency_s", "tokens_per_s", "tokens_per_s_per_device",
                             "joules_per_token", "usd_per_million_tokens", "energy_j", "bound")}
    row.update(hw=hw, weight_dtype=str(wd), memory_gb_per_device=mem / 1e9,
               device_memory_gb=device.memory_bytes / 1e9,
               fits_memory=fits, **m.model_dump())
    return {c: row[c] for c in COLUMNS}


def _best(df: Any, metrics: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per metric: the best point overall, and the best device at each (batch, context);
    only points that fit memory compete."""
    fit = df[df["fits_memory"]]
    best: dict[str, Any] = {}
    by_point: dict[str, Any] = {}
    for metric in metrics:
        higher = METRICS[metric][1]
        if fit.empty:
            best[metric] = None
        else:
            i = fit[metric].idxmax() if higher else fit[metric].idxmin()
            row = fit.loc[i]
            best[metric] = {"hw": row["hw"], "batch": int(row["batch"]),
                            "context": int(row["context"]), "value": float(row[metric])}
        winners: list[dict[str, Any]] = []
        for (b, c), grp in df.groupby(["batch", "context"], sort=True):
            g = grp[grp["fits_memory"]]
            if g.empty:
                winners.append({"batch": int(b), "context": int(c), "hw": None, "value": None})
                continue
            row = g.loc[g[metric].idxmax() if higher else g[metric].idxmin()]
            winners.append({"batch": int(b), "context": int(c), "hw": row["hw"],
                            "value": float(row[metric])})
        by_point[metric] = winners
    return best, by_point


def _summary(spec: StudySpec, df: Any, runtime_s: float) -> dict[str, Any]:
    import codesign

    best, by_point = _best(df, spec.metrics)
    hw, batch, context = spec.reference_point()
    nofit = df[~df["fits_memory"]]
    return {
        "study": spec.name, "description": spec.description, "model": spec.model,
        "phase": spec.phase, "codesign_version": codesign.__version__,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "runtime_s": round(runtime_s, 3), "points": len(df), "metrics": list(spec.metrics),
        "best": best, "best_by_point": by_point,
        "not_fitting_memory": [
            {"hw": r["hw"], "batch": int(r["batch"]), "context": int(r["context"]),
             "memory_gb_per_device": round(float(r["memory_gb_per_device"]), 2)}
            for r in nofit.to_dict("records")],
        "reference": {"hw": hw, "batch": batch, "context": context},
        "spec": spec.model_dump(mode="json"),
    }


def _progress(enabled: bool) -> Any:
    if not enabled:
        return None
    from rich.console import Console
    from rich.progress import Progress

    return Progress(console=Console(stderr=True), transient=True)


def evaluate_study(spec: StudySpec, progress: bool = True) -> tuple[Any, RunResult, Any]:
    """Evaluate every point of ``spec`` (no files): (table, reference run, its device)."""
    import pandas as pd

    from codesign.hw import resolve_system
    from codesign.ir.models import load_model

    cfg = load_model(spec.model, field="model")
    ref_key = spec.reference_point()
    devices = {hw: resolve_system(hw, 8, "hw").main.device
               for hw in dict.fromkeys([*spec.hw, ref_key[0]])}
    dtypes = {hw: _weight_dtype(cfg, d, spec, hw) for hw, d in devices.items()}
    reference = None
    rows = []
    bar = _progress(progress)
    task = bar.add_task(f"study {spec.name}", total=len(spec.points())) if bar else None
    if bar:
        bar.start()
    try:
        for hw, batch, context in spec.points():
            r = _evaluate(spec, cfg, hw, batch, context, dtypes[hw])
            rows.append(_row(spec, cfg, r, dtypes[hw], devices[hw], hw))
            if (hw, batch, context) == ref_key:
                reference = r
            if bar:
                bar.advance(task)
    finally:
        if bar:
            bar.stop()
    if reference is None:
        hw, batch, context = ref_key
        reference = _evaluate(spec, cfg, hw, batch, context, dtypes[hw])
    return pd.DataFrame(rows, columns=list(COLUMNS)), reference, devices[ref_key[0]]


def write_folder(out: Path, files: dict[str, Any]) -> None:
    """Write ``files`` (name -> text, or a callable writing to a path) into a temporary
    folder beside ``out``, then put it in ``out``'s place."""
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{out.name}.tmp-"))
    except OSError as e:
        raise SpecError("out_dir", f"cannot write in {str(parent)!r}: {e.strerror}") from None
    old = None
    try:
        for name, content in files.items():
            if callable(content):
                content(tmp / name)
            else:
                (tmp / name).write_text(content, encoding="utf-8")
        os.chmod(tmp, 0o755)
        if out.exists():
            old = Path(tempfile.mkdtemp(dir=parent, prefix=f".{out.name}.old-"))
            os.replace(out, old / out.name)
        try:
            os.replace(tmp, out)
        except BaseException:
            if old is not None:
                os.replace(old / out.name, out)
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def run_study(spec: AnyStudySpec, out_dir: str | Path, progress: bool = True,
              overwrite: bool = False) -> StudyResult | StudyOutcome:
    """Evaluate ``spec`` and write ``results.parquet``, ``summary.json``, ``study.yaml`` (the
    spec snapshot) and ``report.html`` (self-contained) into ``out_dir``. A study of another
    kind (a :class:`~codesign.study.spec.NetworkStudySpec`...) runs through the runner its
    family registers in :data:`codesign.study.kinds.STUDY_RUNNERS`.

    Raises:
        SpecError: ``out_dir`` is a file, or non-empty without ``overwrite`` (or holds files a
            study did not write); a device lacks the weight format and no usable fallback is
            set; any point the model, mapping or device rejects. Nothing is written then.
    """

    from codesign.report.study_page import study_page_html

    if not isinstance(spec, StudySpec):
        from codesign.study.kinds import STUDY_RUNNERS

        return STUDY_RUNNERS.get(spec.kind)(spec, out_dir, progress, overwrite)

    out = Path(out_dir)
    check_out_dir(out, overwrite, spec.name)
    t0 = time.perf_counter()
    df, reference, device = evaluate_study(spec, progress)
    summary = _summary(spec, df, time.perf_counter() - t0)
    page = study_page_html(f"Study {spec.name}", spec.description, df, spec.metrics,
                           summary["best"], reference, device, NOTES)
    write_study_outputs(out, spec, df, summary, page)
    return StudyResult(spec, df, summary, reference, out)


def write_study_outputs(out: Path, spec: Any, df: Any, summary: dict[str, Any],
                        page: str) -> None:
    """The four outputs of any study kind, written atomically: ``results.parquet``,
    ``summary.json``, the ``study.yaml`` snapshot (with version and time) and ``report.html``."""
    import yaml

    snapshot = yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False)
    write_folder(out, {
        "results.parquet": lambda p: df.to_parquet(p, index=False),
        "summary.json": json.dumps(summary, indent=2) + "\n",
        "study.yaml": f"# snapshot written by codesign {summary['codesign_version']} "
                      f"on {summary['created_utc']}\n{snapshot}",
        "report.html": page,
    })
