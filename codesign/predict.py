"""Single-op predictions from plain fields (CLI flags or JSON lines).

Each op kind has a field table; :func:`build_op` validates the fields (one SpecError naming
the field) and builds the IR op; :func:`predict_ops` costs many ops, reusing device models.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from codesign.errors import SpecError
from codesign.hw import COLLECTIVES, DeviceModel, FabricModel
from codesign.ir.dtypes import DType
from codesign.ir.ops import Attention, Gemm, GroupedGemm, MlaAttention, Op

#: op kind -> field -> default (``...`` marks a required field)
OP_FIELDS: dict[str, dict[str, Any]] = {
    "gemm": {"m": ..., "n": ..., "k": ..., "dtype": "bf16", "hw": ..., "count": 1},
    "grouped-gemm": {"tokens_per_expert": ..., "n": ..., "k": ..., "dtype": "bf16", "hw": ...},
    "attention": {"phase": ..., "batch": ..., "q_heads": ..., "kv_heads": ..., "seq": ...,
                  "head_dim": ..., "dtype": "bf16", "hw": ...},
    "mla-decode": {"batch": ..., "heads": ..., "context": ..., "kv_lora_rank": 512,
                   "qk_rope_head_dim": 64, "qk_nope_head_dim": 128, "v_head_dim": 128,
                   "dtype": "bf16", "hw": ...},
}

#: network predictions: kind -> field -> default
NETWORK_FIELDS: dict[str, dict[str, Any]] = {
    "collective": {"collective": ..., "bytes": ..., "world": ..., "system": ...},
    "ep-dispatch": {"tokens": ..., "hidden": ..., "top_k": ..., "ep": ..., "system": ...,
                    "max_nodes": 0, "dtype": "fp8", "skew": 1.0, "failed_planes": 0},
    "ep-combine": {"tokens": ..., "hidden": ..., "top_k": ..., "ep": ..., "system": ...,
                   "max_nodes": 0, "dtype": "bf16", "skew": 1.0, "failed_planes": 0},
}
ALL_KINDS = sorted([*OP_FIELDS, *NETWORK_FIELDS])


def _field(prefix: str, name: str) -> str:
    return f"{prefix}{name}" if prefix != "--" else "--" + name.replace("_", "-")


def _pos_int(fields: Mapping[str, Any], name: str, prefix: str) -> int:
    v = fields[name]
    if isinstance(v, bool) or not isinstance(v, int):
        raise SpecError(_field(prefix, name), f"must be an integer, got {v!r}")
    if v <= 0:
        raise SpecError(_field(prefix, name), f"must be > 0, got {v}")
    return v


def _complete(kind: str, fields: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    table = OP_FIELDS.get(kind) or NETWORK_FIELDS.get(kind)
    if table is None:
        raise SpecError(_field(prefix, "op"), f"unknown op {kind!r}", ALL_KINDS)
    unknown = sorted(set(fields) - set(table) - {"op"})
    if unknown:
        raise SpecError(_field(prefix, unknown[0]), f"not a field of {kind}", sorted(table))
    out = {}
    for name, default in table.items():
        if fields.get(name) is None:
            if default is ...:
                raise SpecError(_field(prefix, name), f"missing (required for {kind})")
            out[name] = default
        else:
            out[name] = fields[name]
    return out


def build_op(kind: str, fields: Mapping[str, Any], prefix: str = "--") -> tuple[Op, str]:
    """The IR op and the hardware name described by ``fields``.

    ``prefix`` shapes error field names: ``"--"`` for CLI flags (``--q-heads``), or e.g.
    ``"ops.jsonl line 3: "`` for batch files.
    """
    f = _complete(kind, fields, prefix)
    dt = DType.parse(str(f["dtype"]), _field(prefix, "dtype"))
    if not isinstance(f["hw"], str) or not f["hw"].strip():
        raise SpecError(_field(prefix, "hw"), "must be a hardware name")
    if kind == "gemm":
        m, n, k = (_pos_int(f, x, prefix) for x in ("m", "n", "k"))
        count = _pos_int(f, "count", prefix)
        op: Op = Gemm("gemm", m=m, n=n, k=k, batch=count, a_dtype=dt, b_dtype=dt,
                      out_dtype=DType.BF16 if dt.bits < 16 else dt)
    elif kind == "grouped-gemm":
        tpe = f["tokens_per_expert"]
        if isinstance(tpe, str):
            try:
                tpe = [int(x) for x in tpe.split(",") if x.strip()]
            except ValueError:
                raise SpecError(_field(prefix, "tokens_per_expert"),
                                f"must be comma-separated integers, got {f['tokens_per_expert']!r}"
                                ) from None
        if (not isinstance(tpe, list) or not tpe
                or any(isinstance(t, bool) or not isinstance(t, int) or t < 0 for t in tpe)):
            raise SpecError(_field(prefix, "tokens_per_expert"),
                            "must be a non-empty list of integers >= 0")
        if sum(tpe) == 0:
            raise SpecError(_field(prefix, "tokens_per_expert"), "must route at least one token")
        n, k = _pos_int(f, "n", prefix), _pos_int(f, "k", prefix)
        op = GroupedGemm("grouped_gemm", tuple(tpe), n, k, a_dtype=dt, b_dtype=dt,
                         out_dtype=DType.BF16 if dt.bits < 16 else dt)
    elif kind == "attention":
        phase = f["phase"]
        if phase not in ("prefill", "decode"):
            raise SpecError(_field(prefix, "phase"), f"unknown {phase!r}", ["prefill", "decode"])
        b, hq, hkv, s, d = (_pos_int(f, x, prefix)
                            for x in ("batch", "q_heads", "kv_heads", "seq", "head_dim"))
        if hq % hkv:
            raise SpecError(_field(prefix, "kv_heads"), f"{hkv} does not divide q_heads {hq}")
        op = Attention("attention", phase, b, s if phase == "prefill" else 1, s, hq, hkv, d,
                       causal=phase == "prefill", dtype=dt, kv_dtype=dt)
    else:  # mla-decode
        vals = {x: _pos_int(f, x, prefix) for x in
                ("batch", "heads", "context", "kv_lora_rank", "qk_rope_head_dim",
                 "qk_nope_head_dim", "v_head_dim")}
        op = MlaAttention("mla_attention", "decode", "absorbed", vals["batch"], 1,
                          vals["context"] + 1, vals["heads"], vals["kv_lora_rank"],
                          vals["qk_nope_head_dim"], vals["qk_rope_head_dim"],
                          vals["v_head_dim"], causal=False, dtype=dt, kv_dtype=dt)
    return op, f["hw"]


def _check_dtype(device: DeviceModel, op: Op, prefix: str) -> None:
    for t in op.inputs():
        if t.dtype.is_float and t.dtype != DType.FP32 and not device.supports_dtype(t.dtype):
            allowed = [d.value for d in DType if d.is_float and device.supports_dtype(d)]
            raise SpecError(_field(prefix, "dtype"), f"{device.name} has no {t.dtype}", allowed)


def predict_ops(items: Iterable[tuple[str, Mapping[str, Any], str]]) -> list[dict[str, Any]]:
    """Cost ``(kind, fields, error prefix)`` items; all are validated before any is costed.

    Returns one plain dict per op with ``latency_s``, ``energy_j``, ``bound``, ``flops``,
    ``dram_bytes``, ``kernels`` and model details.
    """
    from codesign.hw import resolve_device

    items = list(items)
    net = [_network_job(kind, fields, prefix) for kind, fields, prefix in items
           if kind in NETWORK_FIELDS]
    built = [(kind, *build_op(kind, fields, prefix), prefix) for kind, fields, prefix in items
             if kind not in NETWORK_FIELDS]
    net_out = iter([job() for job in net])
    devices: dict[str, DeviceModel] = {}
    for _, op, hw, prefix in built:
        if hw not in devices:
            try:
                devices[hw] = resolve_device(hw)
            except SpecError as e:
                raise SpecError(_field(prefix, "hw"), e.message, e.allowed) from None
        _check_dtype(devices[hw], op, prefix)
    op_out = iter([(kind, op, hw) for kind, op, hw, _ in built])
    out = []
    for kind, _, _ in items:
        if kind in NETWORK_FIELDS:
            out.append(next(net_out))
            continue
        kind, op, hw = next(op_out)
        c = devices[hw].op_cost(op)
        rec = {"op": kind, "hw": devices[hw].name, **c.as_dict()}
        rec["achieved_flops_per_s"] = c.flops / c.latency_s
        out.append(rec)
    return out


def _system(name: Any, prefix: str, failed_planes: int = 0) -> FabricModel:
    """The network model of a system's first pool (a system preset or file, or a device
    name standing for a cluster of it), with ``failed_planes`` planes out of service."""
    from codesign.hw import resolve_system

    if not isinstance(name, str):
        raise SpecError(_field(prefix, "system"), f"must be a system name or file, got {name!r}")
    system = resolve_system(name, 8, _field(prefix, "system"))
    system = system.with_failed_planes(failed_planes, _field(prefix, "failed_planes"))
    return cast(FabricModel, system.main.model)


def _network_job(kind: str, fields: Mapping[str, Any], prefix: str
                 ) -> Callable[[], dict[str, Any]]:
    """Validate a network prediction now; return a thunk that computes it."""
    f = _complete(kind, fields, prefix)
    if kind == "collective":
        if f["collective"] not in COLLECTIVES:
            raise SpecError(_field(prefix, "collective"), f"unknown {f['collective']!r}",
                            COLLECTIVES)
        nbytes = f["bytes"]
        if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes < 0:
            raise SpecError(_field(prefix, "bytes"), f"must be an integer >= 0, got {nbytes!r}")
        world = _pos_int(f, "world", prefix)
        system = _system(f["system"], prefix)
        try:
            system.check_world(world, _field(prefix, "world"))
        except SpecError:
            raise
        return lambda: _collective_record(system, f["collective"], nbytes, world)
    for name in ("tokens", "hidden", "top_k", "ep"):
        _pos_int(f, name, prefix)
    mn, fp = f["max_nodes"], f["failed_planes"]
    for name, v in (("max_nodes", mn), ("failed_planes", fp)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise SpecError(_field(prefix, name), f"must be an integer >= 0, got {v!r}")
    skew = f["skew"]
    if isinstance(skew, bool) or not isinstance(skew, int | float) or skew < 1:
        raise SpecError(_field(prefix, "skew"), f"must be a number >= 1, got {skew!r}")
    dt = DType.parse(str(f["dtype"]), _field(prefix, "dtype"))
    system = _system(f["system"], prefix, fp)
    system.check_world(f["ep"], _field(prefix, "ep"))
    phase = kind.split("-")[1]

    def run() -> dict[str, Any]:
        e = system.ep_estimate(phase, f["tokens"], f["hidden"], f["top_k"], f["ep"], dt, mn,
                               float(skew))
        return {"op": kind, "system": system.name, "latency_s": e.time_s,
                "energy_j": system.idle_power_w * e.time_s, "bound": "network",
                **e.as_dict()}

    return run


def _collective_record(system: FabricModel, kind: str, nbytes: int, world: int
                       ) -> dict[str, Any]:
    plan = system.collective(kind, nbytes, world)
    t = plan.time_s
    return {"op": "collective", "collective": kind, "system": system.name, "bytes": nbytes,
            "world": world, "latency_s": t,
            "bus_bandwidth_bytes_per_s": plan.bus_bytes_per_s if t > 0 else 0.0,
            "algbw_bytes_per_s": nbytes / t if t > 0 else 0.0, "nodes": plan.nodes,
            "gpus_per_node": plan.per_node, "energy_j": system.idle_power_w * t * world,
            "bound": "network", "sms": system.collective_sms(), "levels": plan.levels}
