"""The shapes the microbenchmarks measure: the linear layers of the shipped models.

``(N, K)`` of ``y[M, N] = x[M, K] @ W^T`` (PyTorch ``F.linear`` with ``W [N, K]``). Kept as plain
tuples so the harness needs nothing but torch.
"""

from __future__ import annotations

#: name -> (N, K); TP shapes are the per-GPU slices of common deployments.
LINEAR_SHAPES: dict[str, tuple[int, int]] = {
    "llama3-8b.qkv": (6144, 4096),
    "llama3-8b.o": (4096, 4096),
    "llama3-8b.gate_up": (28672, 4096),
    "llama3-8b.down": (4096, 14336),
    "llama3-8b.lm_head": (128256, 4096),
    "llama3-70b.qkv": (10240, 8192),
    "llama3-70b.o": (8192, 8192),
    "llama3-70b.gate_up": (57344, 8192),
    "llama3-70b.down": (8192, 28672),
    "llama3-70b-tp8.qkv": (1280, 8192),
    "llama3-70b-tp8.o": (8192, 1024),
    "llama3-70b-tp8.gate_up": (7168, 8192),
    "llama3-70b-tp8.down": (8192, 3584),
    "qwen2.5-72b.gate_up": (59136, 8192),
    "qwen2.5-72b.down": (8192, 29568),
    "llama2-7b.qkv": (12288, 4096),
    "llama2-7b.gate_up": (22016, 4096),
    "llama2-7b.down": (4096, 11008),
    "opt-6.7b.fc1": (16384, 4096),
    "dsv3.q_a": (1536, 7168),
    "dsv3.q_b": (24576, 1536),
    "dsv3.kv_a": (576, 7168),
    "dsv3.o": (7168, 16384),
    "dsv3.dense_gate_up": (36864, 7168),
    "dsv3.dense_down": (7168, 18432),
    "dsv3.shared_gate_up": (4096, 7168),
    "dsv3.shared_down": (7168, 2048),
    "dsv3.gate": (256, 7168),
    "dsv3-tp4.q_b": (6144, 1536),
    "dsv3-tp4.o": (7168, 4096),
    "dsv2-lite.q": (3072, 2048),
    "odd.a": (5120, 3000),
    "odd.b": (1000, 4096),
}

M_VALUES: tuple[int, ...] = (
    1,
    2,
    4,
    8,
    16,
    32,
    48,
    64,
    96,
    128,
    192,
    256,
    384,
    512,
    768,
    1024,
    1536,
    2048,
    3072,
    4096,
    8192,
    16384,
)

#: skip GEMMs above this many FLOPs (keeps the run inside the lease; they are compute-bound)
MAX_GEMM_FLOPS = 6e12

#: batched GEMMs of absorbed MLA (``q_absorb``: k=128 -> n=512; ``v_absorb``: 512 -> 128):
#: (batch = heads, m = tokens, n, k)
BMM_CASES: list[tuple[int, int, int, int]] = [
    (h, m, n, k)
    for h in (16, 128)
    for m in (1, 8, 64, 512, 4096)
    for n, k in ((512, 128), (128, 512))
]

#: grouped GEMM cases: (name, experts, N, K, rows, skew); rows are (token, expert) pairs
GROUPED_CASES: list[tuple[str, int, int, int, int, float]] = [
    (f"{n}.rows{r}.skew{s}", e, nn, k, r, s)
    for n, e, nn, k in (
        ("mixtral.gate_up", 8, 28672, 4096),
        ("mixtral.down", 8, 4096, 14336),
        ("dsv3-ep32.gate_up", 9, 4096, 7168),
        ("dsv3-ep32.down", 9, 7168, 2048),
        ("dsv3-ep1.gate_up", 256, 4096, 7168),
        ("dsv3-ep8.down", 32, 7168, 2048),
    )
    for r in (16, 128, 1024, 8192, 32768)
    for s in (0.0, 1.0)
]

#: prefill attention: (batch, q_heads, kv_heads, seq, head_dim)
PREFILL_CASES: list[tuple[int, int, int, int, int]] = [
    (b, hq, hkv, s, d)
    for hq, hkv, d in ((32, 8, 128), (8, 1, 128), (32, 32, 128), (16, 16, 64))
    for s in (256, 512, 1024, 2048, 4096, 8192, 16384)
    for b in (1, 4)
    if b * s <= 32768
]

#: decode attention: (batch, q_heads, kv_heads, context, head_dim)
DECODE_CASES: list[tuple[int, int, int, int, int]] = [
    (b, hq, hkv, L, 128)
    for hq, hkv in ((32, 8), (64, 8), (32, 32), (8, 1))
    for L in (256, 1024, 4096, 16384, 65536)
    for b in (1, 4, 16, 64, 128)
    if b * L * hkv <= 128 * 4096 * 8
]

#: absorbed MLA decode in plain PyTorch: (batch, heads, context)
MLA_CASES: list[tuple[int, int, int]] = [
    (b, h, L) for h in (16, 128) for L in (1024, 4096, 16384) for b in (1, 8, 64)
]

#: token counts of the elementwise cases; up to DECODE_LAYOUT_MAX_TOKENS they are measured in
#: the decode layout (one new token per sequence), above in the prefill layout (one sequence)
ELEMENTWISE_TOKENS: tuple[int, ...] = (
    1,
    2,
    4,
    8,
    16,
    24,
    32,
    48,
    64,
    96,
    128,
    256,
    512,
    1024,
    4096,
    16384,
)
DECODE_LAYOUT_MAX_TOKENS = 128

#: elementwise: (func, tokens, width). rmsnorm/add: hidden width; silu_mul: intermediate
#: width (input 2x); rope: fused qkv width of (32 q, 8 kv heads, d 128) or (64, 8); cache_write:
#: the k and v width of 8 kv heads x 128.
ELEMENTWISE_CASES: list[tuple[str, int, int]] = [
    (f, t, w)
    for f, widths in (
        ("rmsnorm", (4096, 8192)),
        ("add", (4096, 8192)),
        ("silu_mul", (14336, 28672)),
        ("rope", (6144, 10240)),
        ("cache_write", (1024,)),
    )
    for w in widths
    for t in ELEMENTWISE_TOKENS
]

COPY_BYTES: tuple[int, ...] = tuple(2**p for p in range(20, 32))
