"""Study specs: what a design study sweeps, read strictly from a ``study.yaml``.

A study's ``kind`` picks its spec (default ``model``, so older files need no ``kind``):

* ``model`` (:class:`StudySpec`): one model and phase at every (device, batch, context) point
  under one mapping;
* ``network`` (:class:`NetworkStudySpec`): network co-design -- topology cost against
  endpoints over switch radices, the expert-parallel decode bound, multi-plane effects.

Bundled studies live in the ``studies`` package as ``studies/<name>/study.yaml``; any other
YAML/JSON file (or a folder holding a ``study.yaml``) can be given by path.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from codesign.errors import SpecError
from codesign.report.figures import METRICS

PositiveInt = Annotated[int, Field(strict=True, gt=0)]
StudyMetric = Literal[
    "tokens_per_s", "tokens_per_s_per_device", "joules_per_token", "usd_per_million_tokens",
    "latency_s",
]
STUDY_FILE = "study.yaml"
STUDY_KINDS = ("model", "network")
NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"
assert set(StudyMetric.__args__) == set(METRICS)  # type: ignore[attr-defined]


def _known_hw(value: str, field: str) -> str:
    """A device preset (a cluster of it), a system preset, or a device or system file."""
    from codesign.hw import HARDWARE, SYSTEMS
    from codesign.hw.families import is_file_name

    if is_file_name(value):
        from pathlib import Path

        if not Path(value.strip()).is_file():
            raise SpecError(field, f"no such device or system file {value!r}")
        return value.strip()
    key = value.strip().lower()
    if key not in HARDWARE and key not in SYSTEMS:
        raise SpecError(field, f"unknown hardware or system {value!r}",
                        HARDWARE.names() + SYSTEMS.names())
    return key


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MappingSpec(_Frozen):
    """The parallel mapping of every point (see ``codesign.hw.placement.ParallelSpec``); ``batch``
    is global, so each of the ``dp`` attention ranks takes ``ceil(batch / dp)`` sequences."""

    tp: PositiveInt = 1
    dp: PositiveInt = 1
    ep: PositiveInt = 1
    redundant_experts: Annotated[int, Field(strict=True, ge=0)] = 0

    @property
    def world(self) -> int:
        return self.tp * self.dp


class ReferencePoint(_Frozen):
    """The point the report breaks down per layer and on the roofline. Unset fields default
    to the study's first device, its middle batch and its first context."""

    hw: str | None = None
    batch: PositiveInt | None = None
    context: PositiveInt | None = None

    @field_validator("hw")
    @classmethod
    def _hw_known(cls, v: str | None) -> str | None:
        return None if v is None else _known_hw(v, "reference.hw")


def _unique(values: tuple[Any, ...], field: str) -> tuple[Any, ...]:
    seen = set()
    for i, v in enumerate(values):
        if v in seen:
            raise SpecError(f"{field}[{i}]", f"{v!r} is listed twice")
        seen.add(v)
    return values


class StudySpec(_Frozen):
    """One design study.

    Attributes:
        name: short slug (the default output folder is ``out/<name>``).
        kind: ``model`` (the default; ``network`` studies use :class:`NetworkStudySpec`).
        description: what question the study answers.
        model: shipped model name or path to a model config.
        phase: ``decode`` (``context`` tokens cached, one new token per sequence) or
            ``prefill`` (``context`` is the prompt length).
        context: one length or a list of them, tokens.
        batch: global batch sizes (sequences over the whole deployment).
        hw: what each point runs on: device presets (a cluster of the mapping's devices),
            system presets (``pd-h100-h200``...), or device or system files.
        mapping: tp, dp, ep, redundant_experts, the same at every point.
        weight_dtype_fallback: linear-weight format for a device that cannot compute in the
            model's own (e.g. ``bf16`` for FP8 DeepSeek-V3 on an A100); unset, such a device
            is an error.
        metrics: table columns the report plots and the summary ranks devices by.
        reference: the point the report breaks down (see :class:`ReferencePoint`).
    """

    name: str = Field(pattern=NAME_PATTERN, max_length=80)
    kind: Literal["model"] = "model"
    description: str = ""
    model: str = Field(min_length=1)
    phase: Literal["prefill", "decode"] = "decode"
    context: Annotated[tuple[PositiveInt, ...], Field(min_length=1)]
    batch: Annotated[tuple[PositiveInt, ...], Field(min_length=1)]
    hw: Annotated[tuple[str, ...], Field(min_length=1)]
    mapping: MappingSpec = MappingSpec()
    weight_dtype_fallback: str | None = None
    metrics: Annotated[tuple[StudyMetric, ...], Field(min_length=1)] = (
        "tokens_per_s_per_device", "joules_per_token", "usd_per_million_tokens",
    )
    reference: ReferencePoint = ReferencePoint()

    @field_validator("context", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, int) and not isinstance(v, bool) else v

    @field_validator("context", "batch", "metrics")
    @classmethod
    def _no_repeats(cls, v: tuple[Any, ...], info: Any) -> tuple[Any, ...]:
        return _unique(v, info.field_name)

    @field_validator("hw")
    @classmethod
    def _hw_known(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return _unique(tuple(_known_hw(h, f"hw[{i}]") for i, h in enumerate(v)), "hw")

    @field_validator("weight_dtype_fallback")
    @classmethod
    def _dtype(cls, v: str | None) -> str | None:
        from codesign.ir.dtypes import DType

        return None if v is None else DType.parse(v, "weight_dtype_fallback").value

    @model_validator(mode="after")
    def _fits_mapping(self) -> StudySpec:
        m = self.mapping
        if m.ep > 1 and m.ep > m.world:
            raise SpecError("mapping.ep", f"{m.ep} exceeds the world size tp*dp={m.world}")
        for i, b in enumerate(self.batch):
            if b < m.dp:
                raise SpecError(f"batch[{i}]", f"{b} sequences cannot fill dp={m.dp} ranks")
        if self.reference.batch is not None and self.reference.batch < m.dp:
            raise SpecError("reference.batch",
                            f"{self.reference.batch} sequences cannot fill dp={m.dp} ranks")
        return self

    def reference_point(self) -> tuple[str, int, int]:
        """(hw, batch, context) of the report's breakdown, defaults filled in."""
        r = self.reference
        return (r.hw or self.hw[0], r.batch or sorted(self.batch)[len(self.batch) // 2],
                r.context or self.context[0])

    def points(self) -> list[tuple[str, int, int]]:
        """Every (hw, batch, context) of the sweep, in study order."""
        return [(h, b, c) for h in self.hw for c in self.context for b in self.batch]


# ------------------------------------------------------------------------------ network
NetworkTopology = Literal["ft2", "mpft", "ft3", "slimfly", "dragonfly"]
NETWORK_TOPOLOGIES: tuple[NetworkTopology, ...] = ("ft2", "mpft", "ft3", "slimfly", "dragonfly")
#: GPUs per server of the topology builders' default (MPFT planes must divide it)
_GPUS_PER_NODE = 8


def _even_radix(value: int, field: str) -> int:
    if value < 4 or value % 2:
        raise SpecError(field, f"switch radix must be an even integer >= 4, got {value}")
    return value


def _known_system(value: str, field: str) -> str:
    from codesign.hw import SYSTEMS

    key = value.strip().lower()
    if key not in SYSTEMS:
        raise SpecError(field, f"unknown system {value!r}", SYSTEMS.names())
    return key


class TpotSpec(_Frozen):
    """The expert-parallel decode bound (DeepSeek ISCA 2025, section 2.3.2): per device
    ``tokens_per_device`` tokens of ``hidden`` values to ``experts_per_token`` experts, over
    ``layers`` layers; the scale-out system at ``scale_out_ep`` ranks against the scale-up
    system at ``scale_up_ep`` ranks (system names from the system registry)."""

    tokens_per_device: PositiveInt = 32
    layers: PositiveInt = 61
    hidden: PositiveInt = 7168
    experts_per_token: PositiveInt = 9
    scale_out_system: str = "deepseek-h800-mpft"
    scale_out_ep: PositiveInt = 320
    scale_up_system: str = "gb200-nvl72"
    scale_up_ep: PositiveInt = 72
    max_nodes: Annotated[int, Field(strict=True, ge=0)] = 0

    @field_validator("scale_out_system", "scale_up_system")
    @classmethod
    def _system_known(cls, v: str, info: Any) -> str:
        return _known_system(v, f"tpot.{info.field_name}")

    @model_validator(mode="after")
    def _ep_fits(self) -> TpotSpec:
        from codesign.hw import FabricModel, resolve_system

        for side in ("scale_out", "scale_up"):
            system = cast(FabricModel, resolve_system(getattr(self, f"{side}_system")).main.model)
            system.check_world(getattr(self, f"{side}_ep"), f"tpot.{side}_ep")
        return self


class NetworkStudySpec(_Frozen):
    """A network co-design study (``kind: network``).

    Attributes:
        name, description: as in :class:`StudySpec`.
        topologies: fabrics of the cost sweep.
        radices: switch radices of the sweep (even, >= 4).
        planes: MPFT planes (divide the 8 GPUs of a server).
        multi_plane_radix: radix at which the multi-plane fabric is compared.
        tpot: the expert-parallel decode bound (:class:`TpotSpec`).
    """

    name: str = Field(pattern=NAME_PATTERN, max_length=80)
    kind: Literal["network"]
    description: str = ""
    topologies: Annotated[tuple[NetworkTopology, ...], Field(min_length=1)] = NETWORK_TOPOLOGIES
    radices: Annotated[tuple[PositiveInt, ...], Field(min_length=1)] = (16, 32, 48, 64, 128)
    planes: PositiveInt = 8
    multi_plane_radix: PositiveInt = 64
    tpot: TpotSpec = TpotSpec()

    @field_validator("topologies")
    @classmethod
    def _topologies_once(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return _unique(v, "topologies")

    @field_validator("radices")
    @classmethod
    def _radices(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        return _unique(tuple(_even_radix(r, f"radices[{i}]") for i, r in enumerate(v)),
                       "radices")

    @field_validator("multi_plane_radix")
    @classmethod
    def _mp_radix(cls, v: int) -> int:
        return _even_radix(v, "multi_plane_radix")

    @field_validator("planes")
    @classmethod
    def _planes_divide(cls, v: int) -> int:
        if _GPUS_PER_NODE % v:
            allowed = [d for d in range(1, _GPUS_PER_NODE + 1) if _GPUS_PER_NODE % d == 0]
            raise SpecError("planes", f"must divide the {_GPUS_PER_NODE} GPUs of a server "
                            f"(NIC i joins plane i mod planes), got {v}", allowed)
        return v


AnyStudySpec = StudySpec | NetworkStudySpec


# ------------------------------------------------------------------------------ loading
_FIELDS: dict[str, dict[tuple[Any, ...], type[BaseModel]]] = {
    "model": {(): StudySpec, ("mapping",): MappingSpec, ("reference",): ReferencePoint},
    "network": {(): NetworkStudySpec, ("tpot",): TpotSpec},
}


def _field_name(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "study"


def spec_from_mapping(data: Any, origin: str) -> AnyStudySpec:
    """Validate plain data (a parsed ``study.yaml``) as the spec of its ``kind``
    (:class:`StudySpec` when ``kind`` is absent or ``model``, :class:`NetworkStudySpec`
    for ``network``).

    Raises:
        SpecError: naming the offending field (``kind``, ``batch[2]``, ``mapping.ep``, an
            unknown key) and, in the message, ``origin``.
    """
    if not isinstance(data, dict):
        raise SpecError("study", f"{origin} must hold a mapping of study fields")
    kind = data.get("kind", "model")
    if kind not in STUDY_KINDS:
        raise SpecError("kind", f"unknown study kind {kind!r} (in {origin})", STUDY_KINDS)
    model: type[BaseModel] = NetworkStudySpec if kind == "network" else StudySpec
    try:
        return model.model_validate(data)  # type: ignore[return-value]
    except ValidationError as e:
        err = e.errors()[0]
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, SpecError):
            raise SpecError(cause.field, f"{cause.message} (in {origin})", cause.allowed) from None
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden":
            part = _FIELDS[kind].get(loc[:-1])
            allowed = list(part.model_fields) if part else None
            raise SpecError(_field_name(loc), f"unknown key (in {origin})", allowed) from None
        raise SpecError(_field_name(loc), f"{err['msg'].lower()} (in {origin})") from None


def bundled_studies() -> list[str]:
    """Names of the studies shipped in the ``studies`` package."""
    root = files("studies")
    return sorted(p.name for p in root.iterdir()
                  if p.is_dir() and (p / STUDY_FILE).is_file())


def load_study(name_or_path: str | Path) -> AnyStudySpec:
    """A bundled study by name, or a study file (or a folder holding ``study.yaml``) by path.

    Raises:
        SpecError: unknown name (listing the bundled ones), unreadable or malformed file,
            or a field outside what is allowed (named).
    """
    from codesign.config.loading import load_mapping, load_text_mapping

    text = str(name_or_path)
    if not text.strip():
        raise SpecError("study", "unknown study ''", bundled_studies())
    p = Path(text)
    if p.is_dir():
        p = p / STUDY_FILE
    if p.is_file():
        spec = spec_from_mapping(load_mapping(p), str(p))
    elif isinstance(name_or_path, Path) or "/" in text or p.suffix.lower() in (
            ".yaml", ".yml", ".json"):
        raise SpecError("study", f"no such file {text!r}")
    else:
        res = files("studies") / text.strip() / STUDY_FILE
        if not res.is_file():
            raise SpecError("study", f"unknown study {text!r}", bundled_studies())
        origin = f"studies/{text.strip()}/{STUDY_FILE}"
        spec = spec_from_mapping(load_text_mapping(res.read_text("utf-8"), origin, "yaml"),
                                 origin)
    if isinstance(spec, StudySpec):
        from codesign.ir.models import load_model

        load_model(spec.model, field="model")  # fail at load time, naming the field
    return spec
