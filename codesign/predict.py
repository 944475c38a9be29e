"""Single-op predictions from plain fields (CLI flags or JSON lines).

Each op kind has a field table; :func:`build_op` validates the fields (one SpecError naming
the field) and builds the IR op; :func:`predict_ops` costs many ops, reusing device models.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from codesign.errors import SpecError
from codesign.hw import DeviceModel
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
    if kind not in OP_FIELDS:
        raise SpecError(_field(prefix, "op"), f"unknown op {kind!r}", sorted(OP_FIELDS))
    table = OP_FIELDS[kind]
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
    from codesign.evaluate import resolve_device

    built = [(kind, *build_op(kind, fields, prefix), prefix) for kind, fields, prefix in items]
    devices: dict[str, DeviceModel] = {}
    for _, op, hw, prefix in built:
        if hw not in devices:
            try:
                devices[hw] = resolve_device(hw)
            except SpecError as e:
                raise SpecError(_field(prefix, "hw"), e.message, e.allowed) from None
        _check_dtype(devices[hw], op, prefix)
    out = []
    for kind, op, hw, _ in built:
        c = devices[hw].op_cost(op)
        rec = {"op": kind, "hw": devices[hw].name, **c.as_dict()}
        rec["achieved_flops_per_s"] = c.flops / c.latency_s
        out.append(rec)
    return out
