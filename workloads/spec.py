"""What to build: the pass (prefill or decode, batch, lengths) and the parallel mapping."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from codesign.errors import SpecError
from codesign.ir.dtypes import DType


class PhaseSpec(BaseModel):
    """One forward pass.

    Attributes:
        phase: ``prefill`` (a prompt) or ``decode`` (one generation step).
        batch: sequences in the pass, over the whole deployment (data parallel ranks split it).
        seq_len: new tokens per sequence (the prompt length for prefill; 1 for plain decode,
            more with speculative/MTP tokens).
        context_len: tokens already in each sequence's KV cache before this pass
            (a cached prefix for prefill; the context for decode).
        logits: ``last`` computes logits for each sequence's last token (inference);
            ``all`` for every token (training, scoring).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    phase: Literal["prefill", "decode"]
    batch: int = Field(1, gt=0)
    seq_len: int = Field(1, gt=0)
    context_len: int = Field(0, ge=0)
    logits: Literal["last", "all"] = "last"

    @classmethod
    def prefill(cls, batch: int, prompt_len: int, prefix_len: int = 0) -> PhaseSpec:
        return cls(phase="prefill", batch=batch, seq_len=prompt_len, context_len=prefix_len)

    @classmethod
    def decode(cls, batch: int, context_len: int, tokens: int = 1) -> PhaseSpec:
        return cls(phase="decode", batch=batch, seq_len=tokens, context_len=context_len)

    @property
    def kv_len(self) -> int:
        """Keys each new token of a sequence can see at most (cache plus new tokens)."""
        return self.context_len + self.seq_len

    @property
    def tokens(self) -> int:
        """New tokens in the pass over all sequences."""
        return self.batch * self.seq_len


class ParallelSpec(BaseModel):
    """How one layer is split over ranks (the graph built is one rank's share).

    Attributes:
        tp: tensor parallel degree of attention (heads split) and dense FFNs (intermediate
            split), with an all-reduce after each (Megatron style). With ``ep > 1`` the TP group
            also runs sequence parallelism (reduce-scatter / all-gather, DeepSeek's TP+SP).
        dp: data parallel degree of attention: each group of ``tp`` ranks takes
            ``ceil(batch / dp)`` sequences (the busiest rank is the one built).
        ep: expert parallel degree of MoE layers (``ep == 1``: experts are TP-split instead).
        redundant_experts: extra expert replicas (DeepSeek's EPLB); routed experts plus
            redundant ones must divide evenly over ``ep`` ranks.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tp: int = Field(1, gt=0)
    dp: int = Field(1, gt=0)
    ep: int = Field(1, gt=0)
    redundant_experts: int = Field(0, ge=0)

    @property
    def world(self) -> int:
        return self.tp * self.dp

    @model_validator(mode="after")
    def _ep_fits(self) -> ParallelSpec:
        if self.ep > 1 and self.ep > self.world:
            raise SpecError("parallel.ep", f"{self.ep} exceeds the world size tp*dp={self.world}")
        return self


class BuildOptions(BaseModel):
    """Numeric formats and algorithm choices of a build.

    Attributes:
        mla_form: MLA attention in ``absorbed`` or ``naive`` form; ``None`` picks what
            DeepSeek serves with: naive for prefill, absorbed for decode.
        act_dtype: activations.
        kv_dtype: KV cache.
        weight_dtype: linear-layer weights; ``None`` keeps the model's (FP8 for DeepSeek-V3).
        dispatch_dtype: wire format of MoE dispatch; ``None`` means FP8 when the weights are FP8
            (DeepSeek-V3), else ``act_dtype``. Combine is always sent at ``act_dtype``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    mla_form: Literal["absorbed", "naive"] | None = None
    act_dtype: DType = DType.BF16
    kv_dtype: DType = DType.BF16
    weight_dtype: DType | None = None
    dispatch_dtype: DType | None = None
