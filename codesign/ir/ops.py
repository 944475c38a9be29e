"""Typed, frozen operators of the workload IR.

Every op states its tensors (:meth:`Op.inputs`, :meth:`Op.outputs`) with shape, dtype and role,
and its arithmetic (:attr:`Op.flops`). Counting conventions, shared by the NumPy reference
kernels in ``workloads/*/reference.py`` (tests check the two agree):

* FLOPs: a multiply-add is 2 FLOPs. Matrix products count ``2*m*n*k``. Causal attention counts
  only the unmasked (query, key) pairs. Softmax, norms and other elementwise work count a fixed
  number of FLOPs per element, given in :data:`ELEMENTWISE_FLOPS`; comparisons (top-k) are free.
* Bytes: the compulsory traffic -- every input read once, every output written once, at the
  tensor's dtype. Caches, re-reads and tiling overheads are the hardware model's business.

Ops are plain frozen values: identical layers share op objects, and a graph node's identity is
its key in the :class:`~codesign.ir.graph.WorkloadGraph`, not the op.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from codesign.errors import SpecError
from codesign.ir.dtypes import DType
from codesign.ir.tensors import KV, A, TensorRole, TensorSpec, W

Phase = Literal["prefill", "decode"]

#: FLOPs per *output* element of the elementwise functions (exp, rsqrt, div count as one).
ELEMENTWISE_FLOPS: dict[str, int] = {
    "add": 1,  # residual add, per pair of inputs
    "rmsnorm": 4,  # square, accumulate, scale by rsqrt(mean), multiply by gamma
    "layernorm": 8,  # mean, centre, square, accumulate, normalise, scale, gamma, beta
    "silu_mul": 4,  # exp(-x), 1+., x/., * up
    "gelu": 8,  # tanh approximation
    "relu": 1,
    "rope": 3,  # x1*cos - x2*sin (2 mul + 1 add) per rotated element
    "rmsnorm_rope": 4,  # MLA latent: rmsnorm on the latent, rope on the rope part
}


def _check_dims(op: Op, **dims: int) -> None:
    for key, value in dims.items():
        if not isinstance(value, int) or value <= 0:
            raise SpecError(f"{op.name}.{key}", f"must be a positive integer, got {value!r}")


@dataclass(frozen=True, slots=True)
class Op:
    """Base of all ops. ``name`` is local to a layer (``attn.q_proj``); graph keys add the layer."""

    kind: ClassVar[str] = "op"
    is_communication: ClassVar[bool] = False
    name: str

    def inputs(self) -> tuple[TensorSpec, ...]:
        raise NotImplementedError

    def outputs(self) -> tuple[TensorSpec, ...]:
        raise NotImplementedError

    @property
    def flops(self) -> int:
        """Arithmetic operations, by the module's counting convention."""
        raise NotImplementedError

    @property
    def bytes_read(self) -> int:
        """Compulsory bytes read: each input once."""
        return sum(t.nbytes for t in self.inputs())

    @property
    def bytes_written(self) -> int:
        """Compulsory bytes written: each output once."""
        return sum(t.nbytes for t in self.outputs())

    def bytes_read_by_role(self) -> dict[TensorRole, int]:
        """Bytes read split into weights, activations and KV cache."""
        out = {r: 0 for r in TensorRole}
        for t in self.inputs():
            out[t.role] += t.nbytes
        return out

    def tensor(self, name: str) -> TensorSpec:
        """The input or output tensor called ``name``."""
        for t in (*self.inputs(), *self.outputs()):
            if t.name == name:
                return t
        known = [t.name for t in (*self.inputs(), *self.outputs())]
        raise SpecError(f"{self.name}.tensor", f"no tensor {name!r}", known)


# --------------------------------------------------------------------------- matrix products
@dataclass(frozen=True, slots=True)
class Gemm(Op):
    """``C[batch, m, n] = A[batch, m, k] @ B[batch, k, n]``; M=1 is a GEMV.

    ``b_role`` is ``weight`` for a linear layer, ``activation`` for activation-activation
    products; ``a_role`` is ``kv_cache`` when A is read from the cache (MLA's naive form
    decompressing the latent). ``compute_dtype`` is the tensor-core input format (FP8 GEMMs
    quantize a BF16 activation in their prologue); it defaults to ``b_dtype``.
    """

    kind: ClassVar[str] = "gemm"
    m: int
    n: int
    k: int
    batch: int = 1
    a_dtype: DType = DType.BF16
    b_dtype: DType = DType.BF16
    out_dtype: DType = DType.BF16
    compute_dtype: DType | None = None
    b_role: TensorRole = TensorRole.WEIGHT
    a_role: TensorRole = TensorRole.ACTIVATION

    def __post_init__(self) -> None:
        _check_dims(self, m=self.m, n=self.n, k=self.k, batch=self.batch)

    @property
    def math_dtype(self) -> DType:
        return self.compute_dtype or self.b_dtype

    def _lead(self) -> tuple[int, ...]:
        return (self.batch,) if self.batch > 1 else ()

    def inputs(self) -> tuple[TensorSpec, ...]:
        lead = self._lead()
        return (
            TensorSpec("a", (*lead, self.m, self.k), self.a_dtype, self.a_role),
            TensorSpec("b", (*lead, self.k, self.n), self.b_dtype, self.b_role),
        )

    def outputs(self) -> tuple[TensorSpec, ...]:
        return (TensorSpec("c", (*self._lead(), self.m, self.n), self.out_dtype, A),)

    @property
    def flops(self) -> int:
        return 2 * self.batch * self.m * self.n * self.k


@dataclass(frozen=True, slots=True)
class LmHead(Gemm):
    """The output projection to vocabulary logits (a GEMM with its own kind)."""

    kind: ClassVar[str] = "lm_head"


@dataclass(frozen=True, slots=True)
class GroupedGemm(Op):
    """One GEMM per expert over its own tokens: ``Y_e[t_e, n] = X_e[t_e, k] @ W_e[k, n]``.

    Only experts with at least one token read their weights. Token counts may be uneven.
    """

    kind: ClassVar[str] = "grouped_gemm"
    tokens_per_expert: tuple[int, ...]
    n: int
    k: int
    a_dtype: DType = DType.BF16
    b_dtype: DType = DType.BF16
    out_dtype: DType = DType.BF16
    compute_dtype: DType | None = None

    def __post_init__(self) -> None:
        _check_dims(self, n=self.n, k=self.k, experts=len(self.tokens_per_expert))
        if any((not isinstance(t, int)) or t < 0 for t in self.tokens_per_expert):
            raise SpecError(f"{self.name}.tokens_per_expert", "must be integers >= 0")

    @property
    def math_dtype(self) -> DType:
        return self.compute_dtype or self.b_dtype

    @property
    def tokens(self) -> int:
        return sum(self.tokens_per_expert)

    @property
    def active_experts(self) -> int:
        return sum(1 for t in self.tokens_per_expert if t > 0)

    def inputs(self) -> tuple[TensorSpec, ...]:
        return (
            TensorSpec("x", (self.tokens, self.k), self.a_dtype, A),
            TensorSpec("w", (self.active_experts, self.k, self.n), self.b_dtype, W),
        )

    def outputs(self) -> tuple[TensorSpec, ...]:
        return (TensorSpec("y", (self.tokens, self.n), self.out_dtype, A),)

    @property
    def flops(self) -> int:
        return 2 * self.tokens * self.n * self.k


# --------------------------------------------------------------------------- attention
def causal_pairs(q_len: int, kv_len: int) -> int:
    """Unmasked (query, key) pairs: ``q_len`` new queries after ``kv_len - q_len`` cached keys."""
    past = kv_len - q_len
    return q_len * past + q_len * (q_len + 1) // 2


@dataclass(frozen=True, slots=True)
class Attention(Op):
    """Scaled dot-product attention with grouped KV heads (MHA when equal, MQA when one).

    ``prefill`` processes ``q_len`` prompt tokens against ``kv_len`` keys (``kv_len - q_len``
    earlier ones from a prefix cache); ``decode`` processes ``q_len`` (usually 1) new tokens
    per sequence against a cache of ``kv_len`` tokens. K and V are read from the KV cache.
    """

    kind: ClassVar[str] = "attention"
    phase: Phase
    batch: int
    q_len: int
    kv_len: int
    q_heads: int
    kv_heads: int
    head_dim: int
    v_head_dim: int = 0  # 0 means head_dim
    causal: bool = True
    dtype: DType = DType.BF16
    kv_dtype: DType = DType.BF16

    def __post_init__(self) -> None:
        _check_dims(
            self,
            batch=self.batch,
            q_len=self.q_len,
            kv_len=self.kv_len,
            q_heads=self.q_heads,
            kv_heads=self.kv_heads,
            head_dim=self.head_dim,
        )
        if self.q_heads % self.kv_heads:
            raise SpecError(f"{self.name}.kv_heads", "must divide q_heads")
        if self.causal and self.kv_len < self.q_len:
            raise SpecError(f"{self.name}.kv_len", "must be >= q_len for causal attention")
        if self.phase not in ("prefill", "decode"):
            raise SpecError(f"{self.name}.phase", "unknown phase", ["prefill", "decode"])

    @property
    def dv(self) -> int:
        return self.v_head_dim or self.head_dim

    @property
    def pairs(self) -> int:
        """(query, key) pairs scored per (sequence, head)."""
        if self.causal:
            return causal_pairs(self.q_len, self.kv_len)
        return self.q_len * self.kv_len

    def inputs(self) -> tuple[TensorSpec, ...]:
        b, q, kv = self.batch, self.q_len, self.kv_len
        return (
            TensorSpec("q", (b, q, self.q_heads, self.head_dim), self.dtype, A),
            TensorSpec("k_cache", (b, kv, self.kv_heads, self.head_dim), self.kv_dtype, KV),
            TensorSpec("v_cache", (b, kv, self.kv_heads, self.dv), self.kv_dtype, KV),
        )

    def outputs(self) -> tuple[TensorSpec, ...]:
        return (TensorSpec("o", (self.batch, self.q_len, self.q_heads, self.dv), self.dtype, A),)

    @property
    def flops(self) -> int:
        return 2 * self.batch * self.q_heads * self.pairs * (self.head_dim + self.dv)


@dataclass(frozen=True, slots=True)
class MlaAttention(Op):
    """DeepSeek Multi-head Latent Attention core (after the projections).

    The KV cache holds per token one latent ``c_kv`` (``kv_lora_rank``) and one shared rope key
    ``k_pe`` (``qk_rope_head_dim``).

    * ``absorbed``: queries were multiplied by ``W_UK`` (``q_latent``), so scores are taken
      against the latent directly and the output stays latent (``W_UV`` is applied after).
      Per pair: ``(rank + rope)`` for scores plus ``rank`` for the value sum.
    * ``naive``: ``k_nope`` and ``v`` were decompressed per head from the latent by
      ``kv_b_proj`` (an earlier GEMM over all ``kv_len`` tokens); standard MHA with head dim
      ``nope + rope`` for scores and ``v_head_dim`` for values.
    """

    kind: ClassVar[str] = "mla_attention"
    phase: Phase
    form: Literal["absorbed", "naive"]
    batch: int
    q_len: int
    kv_len: int
    heads: int
    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int
    causal: bool = True
    dtype: DType = DType.BF16
    kv_dtype: DType = DType.BF16

    def __post_init__(self) -> None:
        _check_dims(
            self,
            batch=self.batch,
            q_len=self.q_len,
            kv_len=self.kv_len,
            heads=self.heads,
            kv_lora_rank=self.kv_lora_rank,
            qk_nope_head_dim=self.qk_nope_head_dim,
            qk_rope_head_dim=self.qk_rope_head_dim,
            v_head_dim=self.v_head_dim,
        )
        if self.form not in ("absorbed", "naive"):
            raise SpecError(f"{self.name}.form", "unknown MLA form", ["absorbed", "naive"])
        if self.causal and self.kv_len < self.q_len:
            raise SpecError(f"{self.name}.kv_len", "must be >= q_len for causal attention")

    @property
    def pairs(self) -> int:
        if self.causal:
            return causal_pairs(self.q_len, self.kv_len)
        return self.q_len * self.kv_len

    def inputs(self) -> tuple[TensorSpec, ...]:
        b, q, kv, h = self.batch, self.q_len, self.kv_len, self.heads
        r, rope = self.kv_lora_rank, self.qk_rope_head_dim
        if self.form == "absorbed":
            return (
                TensorSpec("q_latent", (b, q, h, r), self.dtype, A),
                TensorSpec("q_pe", (b, q, h, rope), self.dtype, A),
                TensorSpec("latent_cache", (b, kv, r + rope), self.kv_dtype, KV),
            )
        nope = self.qk_nope_head_dim
        return (
            TensorSpec("q", (b, q, h, nope + rope), self.dtype, A),
            TensorSpec("k_nope", (b, kv, h, nope), self.dtype, A),
            TensorSpec("k_pe", (b, kv, rope), self.kv_dtype, KV),
            TensorSpec("v", (b, kv, h, self.v_head_dim), self.dtype, A),
        )

    def outputs(self) -> tuple[TensorSpec, ...]:
        width = self.kv_lora_rank if self.form == "absorbed" else self.v_head_dim
        return (TensorSpec("o", (self.batch, self.q_len, self.heads, width), self.dtype, A),)

    @property
    def flops(self) -> int:
        if self.form == "absorbed":
            per_pair = 2 * self.kv_lora_rank + self.qk_rope_head_dim
        else:
            per_pair = self.qk_nope_head_dim + self.qk_rope_head_dim + self.v_head_dim
        return 2 * self.batch * self.heads * self.pairs * per_pair


# --------------------------------------------------------------------------- MoE routing
@dataclass(frozen=True, slots=True)
class Router(Op):
    """Expert selection from gate logits (the gate GEMM is a separate :class:`Gemm`).

    ``softmax`` (Mixtral: softmax then top-k, renormalised) or ``sigmoid`` (DeepSeek-V3:
    sigmoid scores, a per-expert bias added for selection only, ``groups`` expert groups of
    which the best ``topk_groups`` (by the sum of each group's top-2 biased scores) are kept,
    top-k within them, weights normalised and multiplied by ``route_scale``).
    FLOPs: score function 3 per logit, bias 1 per logit, normalisation 2 per selected expert.
    """

    kind: ClassVar[str] = "router"
    tokens: int
    experts: int
    top_k: int
    score_func: Literal["softmax", "sigmoid"] = "softmax"
    groups: int = 1
    topk_groups: int = 1
    has_bias: bool = False
    normalize: bool = True
    route_scale: float = 1.0

    def __post_init__(self) -> None:
        _check_dims(
            self,
            tokens=self.tokens,
            experts=self.experts,
            top_k=self.top_k,
            groups=self.groups,
            topk_groups=self.topk_groups,
        )
        if self.top_k > self.experts:
            raise SpecError(f"{self.name}.top_k", f"{self.top_k} exceeds experts {self.experts}")
        if self.experts % self.groups:
            raise SpecError(f"{self.name}.groups", "must divide the number of experts")
        if self.topk_groups > self.groups:
            raise SpecError(f"{self.name}.topk_groups", "must be <= groups")
        if self.top_k > self.topk_groups * (self.experts // self.groups):
            raise SpecError(f"{self.name}.top_k", "exceeds the experts in the kept groups")

    def inputs(self) -> tuple[TensorSpec, ...]:
        specs = [TensorSpec("logits", (self.tokens, self.experts), DType.FP32, A)]
        if self.has_bias:
            specs.append(TensorSpec("bias", (self.experts,), DType.FP32, W))
        return tuple(specs)

    def outputs(self) -> tuple[TensorSpec, ...]:
        return (
            TensorSpec("topk_ids", (self.tokens, self.top_k), DType.INT32, A),
            TensorSpec("topk_weights", (self.tokens, self.top_k), DType.FP32, A),
        )

    @property
    def flops(self) -> int:
        per_logit = 3 + (1 if self.has_bias else 0)
        per_selected = 2 if (self.normalize or self.route_scale != 1.0) else 0
        return self.tokens * (self.experts * per_logit + self.top_k * per_selected)


@dataclass(frozen=True, slots=True)
class Dispatch(Op):
    """Expert-parallel dispatch: send each (token, expert) pair's hidden state to the expert's
    rank (an all-to-all over ``ep`` ranks; a local permutation when ``ep == 1``).

    ``tokens``: tokens this rank routes; ``recv_tokens``: (token, expert) rows this rank
    receives for its local experts. ``dtype`` is the activation format handed in,
    ``wire_dtype`` the format sent and received (FP8 in DeepSeek-V3: the dispatch kernel
    quantizes); it defaults to ``dtype``.
    """

    kind: ClassVar[str] = "dispatch"
    is_communication: ClassVar[bool] = True
    tokens: int
    top_k: int
    hidden: int
    recv_tokens: int
    ep: int = 1
    dtype: DType = DType.BF16
    wire_dtype: DType | None = None
    max_nodes: int = 0  # node-limited routing: a token reaches at most this many nodes (0: any)

    def __post_init__(self) -> None:
        _check_dims(self, tokens=self.tokens, top_k=self.top_k, hidden=self.hidden, ep=self.ep)
        if self.recv_tokens < 0:
            raise SpecError(f"{self.name}.recv_tokens", "must be >= 0")

    @property
    def wire(self) -> DType:
        return self.wire_dtype or self.dtype

    def inputs(self) -> tuple[TensorSpec, ...]:
        return (
            TensorSpec("x", (self.tokens, self.hidden), self.dtype, A),
            TensorSpec("topk_ids", (self.tokens, self.top_k), DType.INT32, A),
        )

    def outputs(self) -> tuple[TensorSpec, ...]:
        return (TensorSpec("x_recv", (self.recv_tokens, self.hidden), self.wire, A),)

    @property
    def send_bytes(self) -> int:
        """Payload this rank sends: one hidden vector per (token, expert) pair."""
        return self.tokens * self.top_k * TensorSpec("", (self.hidden,), self.wire).nbytes

    @property
    def recv_bytes(self) -> int:
        return self.outputs()[0].nbytes

    @property
    def flops(self) -> int:
        return 0


@dataclass(frozen=True, slots=True)
class Combine(Op):
    """Expert-parallel combine: return expert outputs to their tokens' ranks and sum them,
    weighted by the router weights (2 FLOPs per hidden element per pair)."""

    kind: ClassVar[str] = "combine"
    is_communication: ClassVar[bool] = True
    tokens: int
    top_k: int
    hidden: int
    sent_tokens: int
    ep: int = 1
    dtype: DType = DType.BF16
    max_nodes: int = 0  # node-limited routing, as the matching dispatch

    def __post_init__(self) -> None:
        _check_dims(self, tokens=self.tokens, top_k=self.top_k, hidden=self.hidden, ep=self.ep)
        if self.sent_tokens < 0:
            raise SpecError(f"{self.name}.sent_tokens", "must be >= 0")

    def inputs(self) -> tuple[TensorSpec, ...]:
        return (
            TensorSpec("y", (self.sent_tokens, self.hidden), self.dtype, A),
            TensorSpec("topk_weights", (self.tokens, self.top_k), DType.FP32, A),
        )

    def outputs(self) -> tuple[TensorSpec, ...]:
        return (TensorSpec("out", (self.tokens, self.hidden), self.dtype, A),)

    @property
    def send_bytes(self) -> int:
        return self.inputs()[0].nbytes

    @property
    def recv_bytes(self) -> int:
        return self.tokens * self.top_k * TensorSpec("", (self.hidden,), self.dtype).nbytes

    @property
    def flops(self) -> int:
        return 2 * self.tokens * self.top_k * self.hidden


@dataclass(frozen=True, slots=True)
class _GroupCollective(Op):
    """Base of the collectives on a per-rank buffer of ``numel`` elements over ``group_size``
    ranks (the input each rank holds)."""

    is_communication: ClassVar[bool] = True
    numel: int
    group_size: int
    dtype: DType = DType.BF16

    def __post_init__(self) -> None:
        _check_dims(self, numel=self.numel, group_size=self.group_size)

    def inputs(self) -> tuple[TensorSpec, ...]:
        return (TensorSpec("x", (self.numel,), self.dtype, A),)

    def _output(self, numel: int) -> tuple[TensorSpec, ...]:
        return (TensorSpec("y", (numel,), self.dtype, A),)

    @property
    def _reduction_flops(self) -> int:
        """The per-rank share of a reduction: ``numel * (g - 1) / g`` additions."""
        return self.numel * (self.group_size - 1) // self.group_size


@dataclass(frozen=True, slots=True)
class AllReduce(_GroupCollective):
    """Sum of a per-rank buffer of ``numel`` elements over ``group_size`` ranks.

    FLOPs: the per-rank share of the reduction, ``numel * (g - 1) / g`` additions."""

    kind: ClassVar[str] = "all_reduce"

    def outputs(self) -> tuple[TensorSpec, ...]:
        return self._output(self.numel)

    @property
    def flops(self) -> int:
        return self._reduction_flops


@dataclass(frozen=True, slots=True)
class AllGather(_GroupCollective):
    """Gather ``numel`` elements from each of ``group_size`` ranks (sequence parallelism)."""

    kind: ClassVar[str] = "all_gather"

    def outputs(self) -> tuple[TensorSpec, ...]:
        return self._output(self.group_size * self.numel)

    @property
    def flops(self) -> int:
        return 0


@dataclass(frozen=True, slots=True)
class ReduceScatter(_GroupCollective):
    """Sum ``numel`` elements over ``group_size`` ranks, each keeping ``numel / g`` of the sum.

    FLOPs: the per-rank share of the reduction, ``numel * (g - 1) / g`` additions."""

    kind: ClassVar[str] = "reduce_scatter"

    def __post_init__(self) -> None:
        _GroupCollective.__post_init__(self)  # zero-argument super() fails on slots classes
        if self.numel % self.group_size:
            raise SpecError(f"{self.name}.numel", "must be divisible by group_size")

    def outputs(self) -> tuple[TensorSpec, ...]:
        return self._output(self.numel // self.group_size)

    @property
    def flops(self) -> int:
        return self._reduction_flops


# --------------------------------------------------------------------------- the rest
@dataclass(frozen=True, slots=True)
class Elementwise(Op):
    """Norms, activations, residual adds, rotary embedding and fused combinations.

    ``in_widths`` gives one ``[tokens, width]`` input per entry; ``weight_width`` adds a
    learned vector (norm gamma). FLOPs are ``tokens * out_width * ELEMENTWISE_FLOPS[func]``
    (for ``add``, times the number of inputs less one), unless ``flops_per_token`` is set
    for ops that touch only part of their width (rope on the rope dimensions alone).
    """

    kind: ClassVar[str] = "elementwise"
    func: str
    tokens: int
    in_widths: tuple[int, ...]
    out_width: int
    dtype: DType = DType.BF16
    out_dtype: DType | None = None
    weight_width: int = 0
    flops_per_token: int = 0

    def __post_init__(self) -> None:
        if self.func not in ELEMENTWISE_FLOPS:
            raise SpecError(
                f"{self.name}.func", f"unknown {self.func!r}", sorted(ELEMENTWISE_FLOPS)
            )
        _check_dims(self, tokens=self.tokens, out_width=self.out_width)
        for w in self.in_widths:
            _check_dims(self, in_width=w)

    def inputs(self) -> tuple[TensorSpec, ...]:
        specs = [
            TensorSpec(f"x{i}", (self.tokens, w), self.dtype, A)
            for i, w in enumerate(self.in_widths)
        ]
        if self.weight_width:
            specs.append(TensorSpec("gamma", (self.weight_width,), self.dtype, W))
        return tuple(specs)

    def outputs(self) -> tuple[TensorSpec, ...]:
        dtype = self.out_dtype or self.dtype
        return (TensorSpec("y", (self.tokens, self.out_width), dtype, A),)

    @property
    def flops(self) -> int:
        if self.flops_per_token:
            return self.tokens * self.flops_per_token
        per = ELEMENTWISE_FLOPS[self.func]
        if self.func == "add":
            per *= max(1, len(self.in_widths) - 1)
        return self.tokens * self.out_width * per


@dataclass(frozen=True, slots=True)
class KvCacheWrite(Op):
    """Store the new tokens' keys/values (or MLA latents) into the KV cache (vLLM's
    ``reshape_and_cache``): reads ``[tokens, w]`` per input, writes the same at ``kv_dtype``.
    Converting to a narrower cache format costs 2 FLOPs per element (scale and round)."""

    kind: ClassVar[str] = "kv_cache_write"
    tokens: int
    widths: tuple[int, ...]
    dtype: DType = DType.BF16
    kv_dtype: DType = DType.BF16

    def __post_init__(self) -> None:
        _check_dims(self, tokens=self.tokens, entries=len(self.widths))
        for w in self.widths:
            _check_dims(self, width=w)

    def inputs(self) -> tuple[TensorSpec, ...]:
        return tuple(
            TensorSpec(f"x{i}", (self.tokens, w), self.dtype, A) for i, w in enumerate(self.widths)
        )

    def outputs(self) -> tuple[TensorSpec, ...]:
        return tuple(
            TensorSpec(f"c{i}", (self.tokens, w), self.kv_dtype, KV)
            for i, w in enumerate(self.widths)
        )

    @property
    def flops(self) -> int:
        if self.kv_dtype == self.dtype:
            return 0
        return 2 * self.tokens * sum(self.widths)


@dataclass(frozen=True, slots=True)
class Embedding(Op):
    """Token embedding lookup: gathers ``tokens`` rows of a ``[vocab, hidden]`` table.

    Only the gathered rows are read; the table's footprint is counted with the model's weights.
    """

    kind: ClassVar[str] = "embedding"
    tokens: int
    vocab: int
    hidden: int
    dtype: DType = DType.BF16

    def __post_init__(self) -> None:
        _check_dims(self, tokens=self.tokens, vocab=self.vocab, hidden=self.hidden)

    def inputs(self) -> tuple[TensorSpec, ...]:
        return (
            TensorSpec("ids", (self.tokens,), DType.INT32, A),
            TensorSpec("rows", (self.tokens, self.hidden), self.dtype, W),
        )

    def outputs(self) -> tuple[TensorSpec, ...]:
        return (TensorSpec("x", (self.tokens, self.hidden), self.dtype, A),)

    @property
    def flops(self) -> int:
        return 0


OP_TYPES: dict[str, type[Op]] = {
    cls.kind: cls
    for cls in (
        Gemm,
        LmHead,
        GroupedGemm,
        Attention,
        MlaAttention,
        Router,
        Dispatch,
        Combine,
        AllReduce,
        AllGather,
        ReduceScatter,
        Elementwise,
        KvCacheWrite,
        Embedding,
    )
}

__all__ = [
    "ELEMENTWISE_FLOPS",
    "OP_TYPES",
    "AllGather",
    "AllReduce",
    "Attention",
    "Combine",
    "Dispatch",
    "Elementwise",
    "Embedding",
    "Gemm",
    "GroupedGemm",
    "KvCacheWrite",
    "LmHead",
    "MlaAttention",
    "Op",
    "Phase",
    "ReduceScatter",
    "Router",
    "causal_pairs",
]
