"""The PyTorch (eager, unfused) implementations whose kernels are measured: used by both the
microbenchmarks and the end-to-end LLaMA model, so the calibrated costs of elementwise ops
describe exactly what the end-to-end model runs."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def rmsnorm(x: torch.Tensor, w: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """LLaMA RMSNorm as HF transformers writes it (float32 statistics)."""
    xf = x.float()
    xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    return w * xf.to(x.dtype)


def silu_mul(gate_up: torch.Tensor) -> torch.Tensor:
    """SwiGLU on a fused [t, 2i] gate/up output."""
    g, u = gate_up.chunk(2, dim=-1)
    return F.silu(g) * u


def rope_tables(
    max_pos: int, dim: int, device: torch.device, theta: float = 500000.0
) -> tuple[torch.Tensor, torch.Tensor]:
    inv = 1.0 / theta ** (torch.arange(0, dim, 2, device=device, dtype=torch.float32) / dim)
    ang = torch.outer(torch.arange(max_pos, device=device, dtype=torch.float32), inv)
    emb = torch.cat([ang, ang], dim=-1)
    return emb.cos().to(torch.bfloat16), emb.sin().to(torch.bfloat16)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def rope(
    q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotary embedding, HF rotate-half form; q [b, hq, s, d], k [b, hkv, s, d],
    cos/sin [s, d] (or broadcastable)."""
    return q * cos + _rotate_half(q) * sin, k * cos + _rotate_half(k) * sin


def split_qkv_rope(
    qkv: torch.Tensor,
    b: int,
    s: int,
    hq: int,
    hkv: int,
    d: int,
    cos: torch.Tensor,
    sin: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fused qkv output [b*s, (hq+2hkv)d] -> roped q [b,hq,s,d], k, v [b,hkv,s,d]."""
    q, k, v = qkv.view(b, s, hq + 2 * hkv, d).split([hq, hkv, hkv], dim=2)
    q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
    q, k = rope(q, k, cos, sin)
    return q, k, v


def cache_write(
    k_cache: torch.Tensor, v_cache: torch.Tensor, k: torch.Tensor, v: torch.Tensor, start: int
) -> None:
    """Store new k/v [b, hkv, s, d] at positions start.. of the caches [b, hkv, Lmax, d]."""
    s = k.shape[2]
    k_cache[:, :, start : start + s].copy_(k)
    v_cache[:, :, start : start + s].copy_(v)
