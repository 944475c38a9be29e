"""The GPU design space of hardware sizing: the design grid and the area, power, cost and
performance models that evaluate each design, registered as ``gpu`` in
``codesign.opt.design_space.DESIGN_SPACES`` (the MILP choosing among the designs is
:func:`codesign.opt.sizing.size_hardware`).

**Design space.** Derived from a GH100 datasheet (default ``h100-sxm``): a grid of SM counts,
HBM stacks, L2 capacity and NICs per GPU (:class:`DesignGrid`). Clock, per-SM math, NVLink
and the fitted kernel efficiencies stay those of the base part.

* HBM per stack: the base's capacity and bandwidth divided by its active stacks (H100 SXM:
  80 GB / 5 = 16 GB and 3.35 TB/s / 5 = 0.67 TB/s per HBM3 stack; H200: 141 GB / 6 = 23.5 GB
  and 0.8 TB/s per HBM3e stack; stack counts from the H100 whitepaper (5 of 6 sites active on
  H100 SXM5) and the H200 datasheet (6 stacks)).
* NICs: those of the default cluster (``codesign.hw.CLUSTERS``, the network family's: 400 Gb/s
  NDR each), one network plane per NIC: the scale-out bandwidth per GPU scales with them
  (matters when the mapping spans nodes).

**Area, power and cost models** (:class:`SizingAssumptions`; every constant an estimate with
its basis there): die area = uncore + physical SMs x mm^2/SM + physical L2 MB x mm^2/MB + HBM
PHYs x mm^2/PHY, calibrated so the base design is the 814 mm^2 GH100 die (144 physical SMs
for 132 enabled, 60 MB for 50 MB enabled: spares scale alike); above the reticle (858 mm^2)
the design is split into equal dies with a die-to-die overhead. Die cost from wafer price,
dies per wafer and a negative-binomial yield; price = margin x (dies + HBM + package + board)
+ NICs, with the margin calibrated so the base design costs the datasheet price. GPU power =
uncore + W/SM x SMs + W/stack x stacks + W/MB x L2, calibrated to the base TDP; the power
budget counts GPU + NICs. $/h = the base rental price x the design's hourly cost of
ownership (amortised price + energy) over the base design's.

**Performance** is the calibrated GPU model (``build_spec`` with the ``h100-sxm``
calibration's efficiency; energy per FLOP and per DRAM byte unchanged, idle power scaled with
TDP) evaluating one pass of the workload through the analytical engine, on the fewest GPUs of
the mapping's tensor parallel degrees that hold weights and KV cache. The calibrated model
has no L2 term, so L2 capacity changes only area, power and cost here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from codesign.errors import SpecError
from codesign.opt.design_space import DESIGN_SPACES, DesignEvaluation, DesignPoint

if TYPE_CHECKING:
    from codesign.hw.fabric import FabricModel
    from codesign.ir.models import ModelConfig
    from codesign.ir.spec import PhaseSpec
    from hwmodels.gpu.datasheet import GpuDatasheet

MIB = 1024 * 1024
Axis = Annotated[tuple[PositiveInt, ...], Field(min_length=1)]

#: GH100 die facts behind the area model (H100 whitepaper: 814 mm^2 on TSMC 4N; full GH100
#: 144 SMs, 60 MB L2, 6 HBM sites; H100 SXM5 enables 132 SMs, 50 MB L2, 5 HBM3 stacks;
#: H200: 6 HBM3e stacks, same die)
GH100_BASES = {"h100-sxm": 5, "h800-sxm": 5, "h200-sxm": 6}


class SizingAssumptions(BaseModel):
    """Area, power and cost constants. Every one is an estimate; the basis is on each line."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: GH100: 814 mm^2 (H100 whitepaper)
    base_die_mm2: float = 814.0
    #: physical units per enabled unit (GH100: 144 / 132 SMs, 60 / 50 MB L2)
    sm_spare: float = 144 / 132
    l2_spare: float = 60 / 50
    #: estimate: ~58% of the GH100 die is the SM array (public die-shot annotations), / 144
    sm_mm2: float = Field(3.3, gt=0)
    #: estimate: N4 SRAM with tags and crossbar share; GH100's 60 MB L2 ~ 60 mm^2 of die shots
    sram_mm2_per_mb: float = Field(1.0, gt=0)
    #: estimate: HBM3 PHY + controller per 1024-bit stack interface, 10-15 mm^2 in IP briefs
    hbm_phy_mm2: float = Field(15.0, gt=0)
    #: lithography reticle limit 26 x 33 mm
    reticle_mm2: float = Field(858.0, gt=0)
    #: estimate: die-to-die interface area per die when split (B200-style)
    d2d_overhead: float = Field(0.05, ge=0)
    #: estimate: TSMC N4-class 300 mm wafer, press reports of ~$16k-$20k (2022-2024)
    wafer_usd: float = Field(17_000.0, gt=0)
    wafer_diameter_mm: float = Field(300.0, gt=0)
    #: estimate: mature N5/N4 defect density ~0.07-0.1 per cm^2 (TSMC statements 2020-21)
    defects_per_cm2: float = Field(0.1, ge=0)
    #: negative-binomial clustering parameter (common choice 3)
    yield_alpha: float = Field(3.0, gt=0)
    #: estimate: HBM3/HBM3e ~$10-$20/GB (TrendForce-type market estimates, 2024)
    hbm_usd_per_gb: float = Field(12.0, ge=0)
    #: estimate: CoWoS-S interposer and assembly, plus per stack
    package_usd: float = Field(1_000.0, ge=0)
    package_usd_per_stack: float = Field(100.0, ge=0)
    #: estimate: SXM board, VRMs, cooling plate
    board_usd: float = Field(700.0, ge=0)
    #: estimate: ConnectX-7 400G NIC street price and typical power
    nic_usd: float = Field(1_500.0, ge=0)
    nic_w: float = Field(25.0, ge=0)
    #: estimate: uncore (NVLink SerDes, PCIe, IO, crossbar) power; rest of TDP split below
    uncore_w: float = Field(100.0, ge=0)
    #: estimate: HBM3 ~3.5-4 pJ/bit at 0.67 TB/s per stack ~ 20 W
    hbm_stack_w: float = Field(20.0, ge=0)
    #: estimate: SRAM leakage and access power per MB
    sram_w_per_mb: float = Field(0.2, ge=0)
    #: cost of ownership: amortisation and energy (estimates)
    amortization_years: float = Field(4.0, gt=0)
    usd_per_kwh: float = Field(0.10, ge=0)
    pue: float = Field(1.3, ge=1)


class DesignGrid(BaseModel):
    """Values of each design parameter; the design space is their product."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sm_count: Axis = (66, 99, 132, 165, 198, 231, 264)
    hbm_stacks: Axis = (2, 3, 4, 5, 6, 8)
    l2_mb: Axis = (25, 50, 100)
    nics: Axis = (1, 2, 4, 8)


# ------------------------------------------------------------------------------ models
def _dies_per_wafer(a: SizingAssumptions, die_mm2: float) -> float:
    d = a.wafer_diameter_mm
    return math.pi * (d / 2) ** 2 / die_mm2 - math.pi * d / math.sqrt(2 * die_mm2)


def _die_yield(a: SizingAssumptions, die_mm2: float) -> float:
    return (1 + die_mm2 / 100 * a.defects_per_cm2 / a.yield_alpha) ** -a.yield_alpha


class _Physical:
    """Area, power and price of designs, calibrated on the base part (module docstring)."""

    def __init__(self, a: SizingAssumptions, base: GpuDatasheet, base_stacks: int) -> None:
        self.a = a
        self.base, self.base_stacks = base, base_stacks
        self.uncore_mm2 = a.base_die_mm2 - self._var_area(base.sm_count, base_stacks,
                                                          base.l2_bytes / MIB)
        if self.uncore_mm2 <= 0:
            raise SpecError("assumptions", "unit areas exceed the base die area")
        self.sm_w = (base.tdp_w - a.uncore_w - a.hbm_stack_w * base_stacks
                     - a.sram_w_per_mb * base.l2_bytes / MIB) / base.sm_count
        if self.sm_w <= 0:
            raise SpecError("assumptions", "unit powers exceed the base TDP")
        bom = self._bom(base.sm_count, base_stacks, base.l2_bytes / MIB)
        self.margin = base.price_usd / bom
        self.ref_hourly = self._hourly(base.price_usd + a.nic_usd, base.tdp_w + a.nic_w)

    def _var_area(self, sms: int, stacks: int, l2_mb: float) -> float:
        a = self.a
        return (math.ceil(sms * a.sm_spare) * a.sm_mm2 + l2_mb * a.l2_spare * a.sram_mm2_per_mb
                + stacks * a.hbm_phy_mm2)

    def area(self, sms: int, stacks: int, l2_mb: float) -> tuple[int, float]:
        """(dies, total silicon mm^2)."""
        area = self.uncore_mm2 + self._var_area(sms, stacks, l2_mb)
        dies = math.ceil(area / self.a.reticle_mm2)
        return dies, area * (1 + self.a.d2d_overhead * (dies > 1))

    def _bom(self, sms: int, stacks: int, l2_mb: float) -> float:
        a = self.a
        dies, area = self.area(sms, stacks, l2_mb)
        die = area / dies
        die_usd = a.wafer_usd / (_dies_per_wafer(a, die) * _die_yield(a, die))
        hbm = stacks * self.base.hbm_bytes / self.base_stacks / 1e9 * a.hbm_usd_per_gb
        return dies * die_usd + hbm + a.package_usd + stacks * a.package_usd_per_stack + \
            a.board_usd

    def gpu_w(self, sms: int, stacks: int, l2_mb: float) -> float:
        a = self.a
        return a.uncore_w + self.sm_w * sms + a.hbm_stack_w * stacks + a.sram_w_per_mb * l2_mb

    def price(self, sms: int, stacks: int, l2_mb: float, nics: int) -> float:
        return self.margin * self._bom(sms, stacks, l2_mb) + nics * self.a.nic_usd

    def _hourly(self, price: float, power_w: float) -> float:
        a = self.a
        return price / (a.amortization_years * 8760) + power_w / 1e3 * a.pue * a.usd_per_kwh

    def usd_per_hour(self, price: float, power_w: float) -> float:
        return self.base.usd_per_hour * self._hourly(price, power_w) / self.ref_hourly


# ------------------------------------------------------------------------------ evaluate
@dataclass(frozen=True)
class _Workload:
    cfg: ModelConfig
    phase: PhaseSpec
    tps: tuple[int, ...]
    dp: int
    ep: int


def _design_system(phys: _Physical, sms: int, stacks: int, l2_mb: int, nics: int,
                   world: int) -> FabricModel:
    """The design as a GPU model in a cluster of 8-GPU NVLink nodes with ``nics`` NICs per
    GPU (the default cluster's NIC, one plane per NIC), behind the registered fabric."""
    from typing import cast

    from codesign.hw import CLUSTERS, FabricModel, System
    from codesign.hw.system import PoolSpec, ScaleOutSpec, ScaleUpSpec, SystemSpec
    from hwmodels.gpu.calibrate.fit import build_spec
    from hwmodels.gpu.model import GpuModel
    from hwmodels.gpu.presets import load_calibration
    from hwmodels.gpu.spec import GpuEfficiency, GpuEnergy

    base, k = phys.base, phys.base_stacks
    gpu_w = phys.gpu_w(sms, stacks, l2_mb)
    price = phys.price(sms, stacks, l2_mb, nics)
    name = f"design-{sms}sm-{stacks}hbm-{l2_mb}mb-{nics}nic"
    ds = base.model_copy(update={
        "name": name, "description": f"{base.name} variant: {sms} SMs, {stacks} HBM stacks, "
        f"{l2_mb} MB L2, {nics} NICs", "sm_count": sms, "hbm_bytes": base.hbm_bytes / k * stacks,
        "hbm_bytes_per_s": base.hbm_bytes_per_s / k * stacks, "l2_bytes": l2_mb * MIB,
        "tdp_w": gpu_w, "idle_w": base.idle_w * gpu_w / base.tdp_w, "price_usd": price,
        "usd_per_hour": phys.usd_per_hour(price, gpu_w + nics * phys.a.nic_w)})
    cal = load_calibration("h100-sxm")
    eff = GpuEfficiency(**cal["efficiency"])
    energy = GpuEnergy(**{**cal["energy"], "idle_w": ds.idle_w, "tdp_w": gpu_w,
                          "source": "h100-sxm NVML fit; idle power scaled with TDP"})
    gpu = GpuModel(build_spec(ds, eff, energy))
    cluster = CLUSTERS.get("default")(gpu, world)
    nic = next(iter(cluster.pools.values())).scale_out
    if nic is None:
        raise SpecError("nics", "the default cluster has no scale-out network")
    so = ScaleOutSpec(**{**nic.model_dump(), "topology": "mpft" if nics > 1 else "ft2",
                         "planes": nics, "nics_per_gpu": nics})
    pool = PoolSpec(device=name, nodes=max(1, -(-world // 8)), devices_per_node=8,
                    scale_up=ScaleUpSpec(bytes_per_s=base.nvlink_bytes_per_s), scale_out=so)
    spec = SystemSpec(name=name, description=f"{name} cluster", pools={"gpus": pool},
                      source="codesign.opt.sizing design cluster")
    return cast(FabricModel, System(spec, devices={"gpus": gpu}).main.model)


def evaluate_design(phys: _Physical, wl: _Workload, sms: int, stacks: int, l2_mb: int,
                    nics: int, memory_fraction: float = 0.9) -> DesignPoint:
    """One design's area, power, price and workload metrics (``fits`` False when no tp of
    the workload holds weights and KV cache)."""
    from codesign.hw.placement import ParallelSpec
    from codesign.opt.costing import cost_pass, kv_bytes_per_gpu, weights_per_gpu

    base, a = phys.base, phys.a
    dies, area = phys.area(sms, stacks, l2_mb)
    gpu_w = phys.gpu_w(sms, stacks, l2_mb)
    power = gpu_w + nics * a.nic_w
    price = phys.price(sms, stacks, l2_mb, nics)
    hbm = base.hbm_bytes / phys.base_stacks * stacks
    cap = hbm * memory_fraction
    ph, cfg = wl.phase, wl.cfg
    seqs = -(-ph.batch // wl.dp)
    tp = next((t for t in wl.tps if weights_per_gpu(cfg, t, wl.ep)
               + kv_bytes_per_gpu(cfg, t, seqs, ph.context_len + ph.seq_len) <= cap), 0)
    common: dict[str, Any] = {"sm_count": sms, "hbm_stacks": stacks, "l2_mb": l2_mb, "nics": nics,
              "dies": dies, "area_mm2": area, "power_w": power, "price_usd": price,
              "usd_per_hour": phys.usd_per_hour(price, power), "hbm_bytes": hbm,
              "hbm_bytes_per_s": base.hbm_bytes_per_s / phys.base_stacks * stacks,
              "peak_bf16_flops": sms * base.tensor_flops_per_clk_per_sm["bf16"]
              * base.boost_clock_hz}
    if not tp:
        return DesignPoint(**common, fits=False, tp=0, gpus=0, latency_s=math.inf,
                           tokens_per_s=0.0, tokens_per_usd=0.0, joules_per_token=math.inf)
    world = tp * wl.dp
    system = _design_system(phys, sms, stacks, l2_mb, nics, world)
    par = ParallelSpec(tp=tp, dp=wl.dp, ep=wl.ep)
    c = cost_pass(cfg, ph, par, system, "eager" if ph.phase == "prefill" else "graph")
    lat = c.latency_s
    tps = ph.tokens / lat
    usd_h = common["usd_per_hour"] * world
    joules = (c.energy_j * world + nics * a.nic_w * world * lat) / ph.tokens
    return DesignPoint(**common, fits=True, tp=tp, gpus=world, latency_s=lat, tokens_per_s=tps,
                       tokens_per_usd=tps * 3600 / usd_h, joules_per_token=joules)


def evaluate_designs(workload_model: str = "llama-3.1-70b", phase: str = "decode",
                     batch: int = 64, context: int = 4096, *, tp: int | None = None,
                     dp: int = 1, ep: int = 1, grid: DesignGrid | None = None,
                     base: str = "h100-sxm", assumptions: SizingAssumptions | None = None
                     ) -> tuple[list[DesignPoint], DesignPoint]:
    """Every design of ``grid`` and the base part, evaluated on the workload.

    ``tp`` None: per design the smallest of 1, 2, 4, 8 that fits memory.

    Raises:
        SpecError: bad workload, mapping or base.
    """
    from codesign.ir.models import load_model
    from codesign.ir.spec import PhaseSpec
    from hwmodels.gpu.datasheets import DATASHEETS

    if base not in GH100_BASES:
        raise SpecError("base", f"unsupported base {base!r}", GH100_BASES)
    for name, v in (("batch", batch), ("context", context), ("dp", dp), ("ep", ep)):
        if v <= 0:
            raise SpecError(name, f"must be > 0, got {v}")
    if phase not in ("prefill", "decode"):
        raise SpecError("phase", f"unknown phase {phase!r}", ["prefill", "decode"])
    if tp is not None and tp <= 0:
        raise SpecError("tp", f"must be > 0, got {tp}")
    cfg = load_model(workload_model, "workload_model")
    ph = PhaseSpec.prefill(batch, context) if phase == "prefill" else \
        PhaseSpec.decode(batch, context)
    tps = (tp,) if tp else tuple(t for t in (1, 2, 4, 8) if cfg.num_heads % t == 0)
    wl = _Workload(cfg, ph, tps, dp, ep)
    ds = DATASHEETS[base]()
    phys = _Physical(assumptions or SizingAssumptions(), ds, GH100_BASES[base])
    g = grid or DesignGrid()
    points = [evaluate_design(phys, wl, s, h, m, n) for s in g.sm_count for h in g.hbm_stacks
              for m in g.l2_mb for n in g.nics]
    ref = evaluate_design(phys, wl, ds.sm_count, GH100_BASES[base], round(ds.l2_bytes / MIB), 1)
    return points, ref


class GpuDesignSpace:
    """GPU designs derived from a GH100 datasheet (:func:`evaluate_designs`)."""

    def evaluate(self, workload_model: str, phase: str, batch: int, context: int, *,
                 tp: int | None, dp: int, ep: int, grid: BaseModel | None, base: str,
                 assumptions: BaseModel | None) -> DesignEvaluation:
        if grid is not None and not isinstance(grid, DesignGrid):
            raise SpecError("grid", f"a {type(grid).__name__} is not a GPU DesignGrid")
        if assumptions is not None and not isinstance(assumptions, SizingAssumptions):
            raise SpecError("assumptions",
                            f"a {type(assumptions).__name__} is not GPU SizingAssumptions")
        a = assumptions or SizingAssumptions()
        points, ref = evaluate_designs(workload_model, phase, batch, context, tp=tp, dp=dp,
                                       ep=ep, grid=grid, base=base, assumptions=a)
        return DesignEvaluation(points, ref, a.model_dump())


DESIGN_SPACES.register("gpu", GpuDesignSpace)
