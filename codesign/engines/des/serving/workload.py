"""Serving workloads: requests, arrival processes and length distributions, trace replay.

A :class:`Request` is one user request: when it arrives (seconds from the start of the run),
how many prompt tokens it brings, how many of those hit a prefix (KV) cache, and how many
output tokens it asks for. A :class:`Workload` holds the same as columns (NumPy arrays), which
is what the simulation reads: a fleet-sized run of millions of requests never builds a
``Request`` per row. Generators draw every random number from
``numpy.random.default_rng(seed)``, so a seed repeats a workload exactly.

Arrival processes:

* :func:`poisson`: exponential inter-arrival times of mean ``1 / rate``.
* :func:`gamma_bursty`: gamma inter-arrival times of mean ``1 / rate`` and coefficient of
  variation ``cv`` (``cv > 1`` is burstier than Poisson, ``cv == 1`` is Poisson).
* :func:`load_trace`: replay of a CSV (header row) or JSONL file with the columns
  ``arrival_s``, ``prompt_tokens``, ``output_tokens`` and optionally ``cached_tokens``
  (other columns are ignored).

Prefix-cache hits (``cache_hit``): the first ``floor(cache_hit x prompt)`` tokens of every
generated prompt (at most ``prompt - 1``) are read from a KV cache instead of computed, as
DeepSeek's on-disk context cache serves 56.3% of its input tokens (open-infra-index, day 6).

Length distributions (:class:`LengthDist`): ``fixed``, ``uniform`` (integers, both ends
included) and ``lognormal`` given by its mean and coefficient of variation, rounded to
integers and clipped to ``[1, max]``.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from codesign.errors import SpecError, require_positive

TRACE_COLUMNS = ("arrival_s", "prompt_tokens", "output_tokens")
#: optional trace column: prompt tokens served from a prefix cache (default 0)
CACHED_COLUMN = "cached_tokens"


@dataclass(frozen=True, slots=True)
class Request:
    """One request. ``arrival_s`` in seconds from the start of the run; token counts >= 1;
    ``cached_tokens`` (``0 <= cached < prompt``) of the prompt hit a prefix cache."""

    id: int
    arrival_s: float
    prompt_tokens: int
    output_tokens: int
    cached_tokens: int = 0


@dataclass(frozen=True)
class Workload:
    """Requests as columns, sorted by arrival (what the simulation reads).

    Attributes:
        id: request ids (int64).
        arrival_s: arrival times, seconds (float64, non-decreasing).
        prompt_tokens, output_tokens, cached_tokens: token counts (int64).
    """

    id: np.ndarray
    arrival_s: np.ndarray
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    cached_tokens: np.ndarray

    def __len__(self) -> int:
        return len(self.id)

    @classmethod
    def from_requests(cls, reqs: Sequence[Request]) -> Workload:
        """Columns of ``reqs`` (kept in the given order)."""
        def col(name: str, dtype: Any) -> np.ndarray:
            return np.fromiter((getattr(r, name) for r in reqs), dtype=dtype, count=len(reqs))

        return cls(col("id", np.int64), col("arrival_s", np.float64),
                   col("prompt_tokens", np.int64), col("output_tokens", np.int64),
                   col("cached_tokens", np.int64))

    def requests(self) -> list[Request]:
        """One :class:`Request` per row."""
        return [Request(int(i), float(a), int(p), int(o), int(c)) for i, a, p, o, c in zip(
            self.id, self.arrival_s, self.prompt_tokens, self.output_tokens,
            self.cached_tokens, strict=True)]

    def with_cache_hit(self, share: float) -> Workload:
        """The same requests with ``floor(share x prompt)`` cached prompt tokens each (at most
        ``prompt - 1``: one token is always computed)."""
        cached = np.minimum(np.floor(share * self.prompt_tokens).astype(np.int64),
                            self.prompt_tokens - 1)
        return Workload(self.id, self.arrival_s, self.prompt_tokens, self.output_tokens,
                        cached)


@dataclass(frozen=True, slots=True)
class LengthDist:
    """A distribution of token counts.

    Attributes:
        kind: ``fixed`` (always ``mean``), ``uniform`` (integers in ``[low, high]``) or
            ``lognormal`` (mean ``mean``, coefficient of variation ``cv``).
        mean: the mean (``fixed``, ``lognormal``).
        cv: coefficient of variation (``lognormal``); 0 gives ``fixed``.
        low, high: bounds (``uniform``); ``high`` also clips ``lognormal`` draws.
    """

    kind: Literal["fixed", "uniform", "lognormal"]
    mean: float = 1.0
    cv: float = 0.0
    low: int = 1
    high: int | None = None

    @classmethod
    def fixed(cls, n: int) -> LengthDist:
        return cls("fixed", mean=n, low=n, high=n)

    @classmethod
    def uniform(cls, low: int, high: int) -> LengthDist:
        return cls("uniform", mean=(low + high) / 2, low=low, high=high)

    @classmethod
    def lognormal(cls, mean: float, cv: float, high: int | None = None) -> LengthDist:
        return cls("lognormal", mean=mean, cv=cv, high=high)

    def check(self, field: str) -> None:
        """Raise :class:`SpecError` naming ``field`` unless the parameters make sense."""
        if self.kind not in ("fixed", "uniform", "lognormal"):
            raise SpecError(field, f"unknown kind {self.kind!r}", ["fixed", "uniform", "lognormal"])
        if self.kind == "uniform":
            if self.low < 1 or self.high is None or self.high < self.low:
                raise SpecError(field, f"uniform needs 1 <= low <= high, got {self.low}, "
                                       f"{self.high}")
            return
        if not (math.isfinite(self.mean) and self.mean >= 1):
            raise SpecError(field, f"mean must be >= 1 token, got {self.mean}")
        if not (math.isfinite(self.cv) and self.cv >= 0):
            raise SpecError(field, f"cv must be >= 0, got {self.cv}")
        if self.high is not None and self.high < 1:
            raise SpecError(field, f"max must be >= 1, got {self.high}")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` integer draws (int64, each >= 1)."""
        if self.kind == "uniform":
            assert self.high is not None
            return rng.integers(self.low, self.high + 1, size=n, dtype=np.int64)
        if self.kind == "fixed" or self.cv == 0:
            x = np.full(n, float(self.mean))
        else:
            sigma2 = math.log1p(self.cv**2)
            mu = math.log(self.mean) - sigma2 / 2
            x = rng.lognormal(mu, math.sqrt(sigma2), size=n)
        hi = self.high if self.high is not None else np.iinfo(np.int64).max
        return np.clip(np.rint(x), 1, hi).astype(np.int64)


#: defaults of the generators: prompts of mean 1024 tokens, outputs of mean 256 (lognormal,
#: cv 0.5, clipped at 8x the mean); an assumption, not a published trace
DEFAULT_PROMPT = LengthDist.lognormal(1024, 0.5, high=8192)
DEFAULT_OUTPUT = LengthDist.lognormal(256, 0.5, high=2048)


def _check_common(rate: float, n: int) -> None:
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate):
        raise SpecError("rate", f"must be a finite number of requests/s, got {rate!r}")
    require_positive("rate", rate)
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise SpecError("requests", f"must be an integer, got {n!r}")
    require_positive("requests", n)


def _build(arrivals: np.ndarray, rng: np.random.Generator, prompt: LengthDist,
           output: LengthDist) -> Workload:
    prompt.check("prompt_tokens")
    output.check("output_tokens")
    p = prompt.sample(rng, len(arrivals))
    o = output.sample(rng, len(arrivals))
    n = len(arrivals)
    return Workload(np.arange(n, dtype=np.int64), np.asarray(arrivals, dtype=np.float64), p, o,
                    np.zeros(n, dtype=np.int64))


def poisson_workload(rate: float, n: int, *, prompt: LengthDist = DEFAULT_PROMPT,
                     output: LengthDist = DEFAULT_OUTPUT, seed: int = 0) -> Workload:
    """``n`` requests arriving as a Poisson process of ``rate`` requests/s, as columns.

    Raises:
        SpecError: ``rate`` or ``n`` not > 0 (field ``rate`` / ``requests``), bad lengths.
    """
    _check_common(rate, n)
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1.0 / rate, size=n))
    return _build(arrivals, rng, prompt, output)


def gamma_workload(rate: float, cv: float, n: int, *, prompt: LengthDist = DEFAULT_PROMPT,
                   output: LengthDist = DEFAULT_OUTPUT, seed: int = 0) -> Workload:
    """``n`` requests with gamma inter-arrival times (see :func:`gamma_bursty`), as columns.

    Raises:
        SpecError: ``rate``, ``cv`` or ``n`` not > 0, bad lengths.
    """
    _check_common(rate, n)
    if isinstance(cv, bool) or not isinstance(cv, int | float) or not math.isfinite(cv):
        raise SpecError("cv", f"must be a finite number, got {cv!r}")
    require_positive("cv", cv)
    rng = np.random.default_rng(seed)
    shape = 1.0 / cv**2
    arrivals = np.cumsum(rng.gamma(shape, 1.0 / (rate * shape), size=n))
    return _build(arrivals, rng, prompt, output)


def poisson(rate: float, n: int, *, prompt: LengthDist = DEFAULT_PROMPT,
            output: LengthDist = DEFAULT_OUTPUT, seed: int = 0) -> list[Request]:
    """``n`` requests arriving as a Poisson process of ``rate`` requests/s.

    Raises:
        SpecError: ``rate`` or ``n`` not > 0 (field ``rate`` / ``requests``), bad lengths.
    """
    return poisson_workload(rate, n, prompt=prompt, output=output, seed=seed).requests()


def gamma_bursty(rate: float, cv: float, n: int, *, prompt: LengthDist = DEFAULT_PROMPT,
                 output: LengthDist = DEFAULT_OUTPUT, seed: int = 0) -> list[Request]:
    """``n`` requests with gamma inter-arrival times: mean ``1 / rate`` s, coefficient of
    variation ``cv`` (shape ``1 / cv**2``); ``cv > 1`` gives bursts and lulls.

    Raises:
        SpecError: ``rate``, ``cv`` or ``n`` not > 0, bad lengths.
    """
    return gamma_workload(rate, cv, n, prompt=prompt, output=output, seed=seed).requests()


def check_workload(workload: list[Request] | Workload) -> Workload:
    """Explicit requests, validated, sorted by arrival (stable), as columns.

    Raises:
        SpecError: ``workload`` empty, ``workload[i].<field>`` or ``workload.<column>[i]``
            out of range.
    """
    if isinstance(workload, Workload):
        return _check_columns(workload)
    if not workload:
        raise SpecError("workload", "holds no requests")
    for i, r in enumerate(workload):
        if not isinstance(r, Request):
            raise SpecError(f"workload[{i}]", f"must be a Request, got {type(r).__name__}")
        if not (math.isfinite(r.arrival_s) and r.arrival_s >= 0):
            raise SpecError(f"workload[{i}].arrival_s", f"must be >= 0, got {r.arrival_s}")
        for name in ("prompt_tokens", "output_tokens"):
            v = getattr(r, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise SpecError(f"workload[{i}].{name}", f"must be an integer >= 1, got {v!r}")
        c = r.cached_tokens
        if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < r.prompt_tokens:
            raise SpecError(f"workload[{i}].cached_tokens", f"must be an integer in 0.."
                            f"{r.prompt_tokens - 1} (below prompt_tokens), got {c!r}")
    return Workload.from_requests(sorted(workload, key=lambda r: r.arrival_s))


def _check_columns(wl: Workload) -> Workload:
    """A :class:`Workload`'s columns: equal lengths, valid values, arrivals in order."""
    n = len(wl.id)
    if n == 0:
        raise SpecError("workload", "holds no requests")
    for name in ("arrival_s", "prompt_tokens", "output_tokens", "cached_tokens"):
        if len(getattr(wl, name)) != n:
            raise SpecError(f"workload.{name}", f"has {len(getattr(wl, name))} rows, id has {n}")
    checks = (("arrival_s", ~(np.isfinite(wl.arrival_s) & (wl.arrival_s >= 0)), ">= 0"),
              ("prompt_tokens", wl.prompt_tokens < 1, ">= 1"),
              ("output_tokens", wl.output_tokens < 1, ">= 1"),
              ("cached_tokens", (wl.cached_tokens < 0) | (wl.cached_tokens >= wl.prompt_tokens),
               "in 0..prompt_tokens - 1"))
    for name, bad, what in checks:
        if bad.any():
            i = int(np.argmax(bad))
            raise SpecError(f"workload.{name}[{i}]", f"must be {what}, got "
                                                     f"{getattr(wl, name)[i]!r}")
    if (np.diff(wl.arrival_s) < 0).any():
        order = np.argsort(wl.arrival_s, kind="stable")
        return Workload(wl.id[order], wl.arrival_s[order], wl.prompt_tokens[order],
                        wl.output_tokens[order], wl.cached_tokens[order])
    return wl


# --------------------------------------------------------------------------- traces
def _parse_row(row: dict[str, Any], where: str) -> tuple[float, int, int, int]:
    vals: list[Any] = []
    for col in (*TRACE_COLUMNS, CACHED_COLUMN):
        field = f"{where}, column {col}"
        missing = col not in row or row[col] is None or (isinstance(row[col], str)
                                                          and not row[col].strip())
        if missing:
            if col == CACHED_COLUMN:
                vals.append(0)
                continue
            raise SpecError(field, "missing")
        raw = row[col]
        if col == "arrival_s":
            try:
                v: Any = float(raw) if not isinstance(raw, bool) else math.nan
            except (TypeError, ValueError):
                raise SpecError(field, f"must be a number of seconds, got {raw!r}") from None
            if not (math.isfinite(v) and v >= 0):
                raise SpecError(field, f"must be a finite number >= 0, got {raw!r}")
        else:
            v = _as_int(raw)
            if v is None:
                raise SpecError(field, f"must be an integer, got {raw!r}")
            low = 0 if col == CACHED_COLUMN else 1
            if v < low:
                raise SpecError(field, f"must be >= {low}, got {v}")
        vals.append(v)
    if vals[3] >= vals[1]:
        raise SpecError(f"{where}, column {CACHED_COLUMN}",
                        f"must be below prompt_tokens ({vals[1]}), got {vals[3]}")
    return vals[0], vals[1], vals[2], vals[3]


def _as_int(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        return int(raw) if raw.is_integer() else None
    if isinstance(raw, str):
        s = raw.strip()
        try:
            return int(s)
        except ValueError:
            try:
                f = float(s)
            except ValueError:
                return None
            return int(f) if math.isfinite(f) and f.is_integer() else None
    return None


def load_trace(path: str | Path, limit: int | None = None) -> list[Request]:
    """Requests from a CSV (with a header row) or JSONL trace, sorted by arrival time.

    Columns ``arrival_s`` (seconds, >= 0), ``prompt_tokens`` and ``output_tokens``
    (integers >= 1), optionally ``cached_tokens`` (0 <= cached < prompt, default 0); other
    columns are ignored. ``.jsonl``/``.json`` files hold one JSON
    object per line (blank lines skipped); anything else is read as CSV. ``limit`` keeps the
    first ``limit`` requests in file order.

    Raises:
        SpecError: unreadable file (field ``trace``), a malformed line or value (field
            ``<file> line <n>, column <name>``), or no requests at all.
    """
    p = Path(path)
    if not p.is_file():
        raise SpecError("trace", f"no such file {str(path)!r}")
    if limit is not None:
        require_positive("requests", limit)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError("trace", f"cannot read {str(path)!r}: {e}") from None
    rows = _jsonl_rows(text, p.name) if p.suffix.lower() in (".jsonl", ".json") else \
        _csv_rows(text, p.name)
    if limit is not None:
        rows = rows[:limit]
    if not rows:
        raise SpecError("trace", f"{p.name} holds no requests")
    order = sorted(range(len(rows)), key=lambda i: (rows[i][0], i))
    return [Request(k, *rows[i]) for k, i in enumerate(order)]


def _jsonl_rows(text: str, name: str) -> list[tuple[float, int, int, int]]:
    rows = []
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise SpecError(f"{name} line {i}", f"malformed JSON: {e.msg}") from None
        if not isinstance(obj, dict):
            raise SpecError(f"{name} line {i}", "must be a JSON object")
        rows.append(_parse_row(obj, f"{name} line {i}"))
    return rows


def _csv_rows(text: str, name: str) -> list[tuple[float, int, int, int]]:
    lines = text.splitlines()
    reader = csv.reader(lines)
    header: Sequence[str] | None = None
    rows = []
    for i, rec in enumerate(reader, start=1):
        if not rec or all(not c.strip() for c in rec):
            continue
        if header is None:
            header = [c.strip() for c in rec]
            missing = [c for c in TRACE_COLUMNS if c not in header]
            if missing:
                raise SpecError(f"{name} line {i}, column {missing[0]}",
                                "missing from the header", TRACE_COLUMNS)
            continue
        if len(rec) != len(header):
            raise SpecError(f"{name} line {i}",
                            f"has {len(rec)} fields, the header has {len(header)}")
        rows.append(_parse_row(dict(zip(header, rec, strict=True)), f"{name} line {i}"))
    return rows
