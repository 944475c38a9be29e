"""What to build: the pass (prefill or decode, batch, lengths) and numeric formats.

The workload axis of a question; the parallel mapping is the placement's
(:class:`codesign.hw.placement.ParallelSpec`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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
