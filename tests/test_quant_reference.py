"""Tests of the NumPy reference low-precision formats in workloads.quant.reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from codesign.errors import SpecError
from codesign.ir.dtypes import DType
from workloads.quant.reference import (
    E2M1_VALUES,
    FP8_E4M3_MAX,
    FP8_E5M2_MAX,
    decode_e2m1,
    decode_fp8,
    dequantize_fp8_blockwise,
    dequantize_int,
    dequantize_mxfp4,
    dequantize_nvfp4,
    encode_e2m1,
    encode_fp8,
    fp8_decode_table,
    pack_bits,
    quantize_fp8_blockwise,
    quantize_int,
    quantize_mxfp4,
    quantize_nvfp4,
    quantized_nbytes,
    unpack_bits,
)

FP8 = {"e4m3": (3, -6, FP8_E4M3_MAX), "e5m2": (2, -14, FP8_E5M2_MAX)}  # mbits, emin, max
F32_EPS = 2.0**-24  # unit roundoff of float32
SETTINGS = settings(max_examples=150, deadline=None, derandomize=True)


def _floor_log2(a: np.ndarray) -> np.ndarray:
    return np.frexp(a)[1].astype(np.int64) - 1


def _brute_nearest(x: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Saturating RNE by exhaustive search: nearest finite non-negative table value to |x|,
    ties to the even code, with the sign of x. Non-negative codes must be 0..K monotonic."""
    half = len(table) // 2
    pos = table[:half].astype(np.float64)
    k = int(np.flatnonzero(np.isfinite(pos) & (pos == np.nanmax(pos[np.isfinite(pos)])))[0])
    vals = pos[: k + 1]
    a = np.abs(x.astype(np.float64))
    d = np.abs(a[:, None] - vals[None, :])
    cand = d == d.min(axis=1, keepdims=True)
    even = cand & (np.arange(k + 1) % 2 == 0)
    idx = np.where(cand.sum(axis=1) > 1, even.argmax(axis=1), cand.argmax(axis=1))
    return (idx | np.where(np.signbit(x), half, 0)).astype(np.uint8)


def _fp8_probe_values(fmt: str, rng: np.random.Generator, n: int) -> np.ndarray:
    """Random values over the whole range (subnormals included), exact midpoints and codes."""
    mbits, emin, fmax = FP8[fmt]
    mags = np.exp2(rng.uniform(emin - mbits - 3, np.log2(fmax) + 1, n))
    table = fp8_decode_table(fmt).astype(np.float64)
    pos = np.sort(table[:128][np.isfinite(table[:128])])
    mids = (pos[:-1] + pos[1:]) / 2
    vals = np.concatenate([mags, mids, pos, [fmax * 1.03, fmax * 1e3, 0.0]])
    signs = np.where(rng.random(vals.size) < 0.5, -1.0, 1.0)
    return vals * signs


# ----------------------------------------------------------------------------- FP8 codes


def test_fp8_decode_tables_known_values() -> None:
    e4 = fp8_decode_table("e4m3")
    assert e4[0x7E] == 448 and e4[0xFE] == -448 and e4[0x38] == 1.0
    assert e4[0x01] == 2.0**-9 and e4[0x08] == 2.0**-6 and e4[0x07] == 7 * 2.0**-9
    assert np.isnan(e4[[0x7F, 0xFF]]).all() and np.isnan(e4).sum() == 2
    assert not np.isinf(e4).any()
    e5 = fp8_decode_table("e5m2")
    assert e5[0x7B] == 57344 and e5[0x3C] == 1.0 and e5[0x01] == 2.0**-16
    assert e5[0x7C] == np.inf and e5[0xFC] == -np.inf and np.isnan(e5).sum() == 6
    assert np.signbit(e4[0x80]) and e4[0x80] == 0 and fp8_decode_table("fp8_e4m3")[0x7E] == 448


@pytest.mark.parametrize("fmt", ["e4m3", "e5m2"])
def test_fp8_every_finite_code_round_trips(fmt: str) -> None:
    codes = np.arange(256)
    vals = decode_fp8(codes, fmt)
    assert vals.dtype == np.float32
    finite = np.isfinite(vals)
    np.testing.assert_array_equal(encode_fp8(vals[finite], fmt), codes[finite])  # -0 -> 0x80
    assert (encode_fp8(vals[np.isnan(vals)], fmt) == 0x7F).all()


@pytest.mark.parametrize("fmt", ["e4m3", "e5m2"])
def test_fp8_encode_is_nearest_ties_to_even(fmt: str) -> None:
    x = _fp8_probe_values(fmt, np.random.default_rng(1), 20000)
    np.testing.assert_array_equal(encode_fp8(x, fmt), _brute_nearest(x, fp8_decode_table(fmt)))


@SETTINGS
@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6))
def test_fp8_encode_matches_brute_force_hypothesis(v: float) -> None:
    x = np.array([v])
    for fmt in FP8:
        assert encode_fp8(x, fmt)[0] == _brute_nearest(x, fp8_decode_table(fmt))[0]


def test_fp8_overflow_modes() -> None:
    big = np.array([464.0, 465.0, 1e9, np.inf, -np.inf, np.nan, -0.0])
    np.testing.assert_array_equal(
        encode_fp8(big, "e4m3"), [0x7E, 0x7E, 0x7E, 0x7E, 0xFE, 0x7F, 0x80]
    )  # 464 is the tie between 448 (even) and the NaN slot
    np.testing.assert_array_equal(
        encode_fp8(big, "e4m3", saturate=False), [0x7E, 0x7F, 0x7F, 0x7F, 0x7F, 0x7F, 0x80]
    )
    e5 = np.array([61439.0, 61440.0, -1e9, np.inf])  # 61440 = tie between 57344 and 2**16
    np.testing.assert_array_equal(encode_fp8(e5, "e5m2"), [0x7B, 0x7B, 0xFB, 0x7B])
    np.testing.assert_array_equal(encode_fp8(e5, "e5m2", saturate=False), [0x7B, 0x7C, 0xFC, 0x7C])


def test_fp8_bad_arguments() -> None:
    for call, field in [
        (lambda: encode_fp8(np.ones(2), "e3m4"), "fmt"),
        (lambda: decode_fp8(np.array([256]), "e4m3"), "codes"),
        (lambda: decode_fp8(np.array([1.0]), "e4m3"), "codes"),
        (lambda: quantize_fp8_blockwise(np.ones(8)), "x"),
        (lambda: quantize_fp8_blockwise(np.array([[1.0, np.nan]])), "x"),
        (lambda: quantize_fp8_blockwise(np.ones((2, 2)), block=(0, 4)), "block"),
        (lambda: quantize_fp8_blockwise(np.ones((2, 2)), block=(4,)), "block"),
        (lambda: quantize_fp8_blockwise(np.ones((2, 2)), fmt="int8"), "fmt"),
        (lambda: dequantize_fp8_blockwise(np.zeros((2, 2), np.uint8), np.ones((2, 2))), "scales"),
    ]:
        with pytest.raises(SpecError) as err:
            call()
        assert err.value.field == field


# ----------------------------------------------------------------------------- block FP8


@pytest.mark.parametrize("fmt", ["e4m3", "e5m2"])
@pytest.mark.parametrize(("shape", "block"), [((130, 300), (1, 128)), ((130, 300), (128, 128))])
def test_fp8_blockwise_scales_error_and_idempotence(fmt, shape, block) -> None:
    rng = np.random.default_rng(2)
    x = (rng.standard_normal(shape) * np.exp(rng.uniform(-8, 8, (shape[0], 1)))).astype(np.float32)
    x[: block[0], : block[1]] = 0.0  # an all-zero block
    codes, scales = quantize_fp8_blockwise(x, fmt, block)
    nr, nc = -(-shape[0] // block[0]), -(-shape[1] // block[1])
    assert codes.dtype == np.uint8 and codes.shape == shape
    assert scales.dtype == np.float32 and scales.shape == (nr, nc)
    mbits, emin, fmax = FP8[fmt]
    padded = np.zeros((nr * block[0], nc * block[1]))
    padded[: shape[0], : shape[1]] = np.abs(x)
    amax = padded.reshape(nr, block[0], nc, block[1]).max(axis=(1, 3))
    want = np.where(amax > 0, (amax / fmax).astype(np.float32), 1.0)
    np.testing.assert_array_equal(scales, want)
    assert scales[0, 0] == 1.0 and (codes[: block[0], : block[1]] == 0).all()
    y = dequantize_fp8_blockwise(codes, scales, fmt, block)
    assert y.dtype == np.float32 and y.shape == shape
    s = np.repeat(np.repeat(scales, block[0], 0), block[1], 1)[: shape[0], : shape[1]]
    p = np.abs(x / s.astype(np.float64))
    half_ulp = np.exp2(np.maximum(_floor_log2(p), emin) - mbits - 1) * s
    assert (np.abs(x - y.astype(np.float64)) <= half_ulp + F32_EPS * np.abs(y)).all()
    codes2, scales2 = quantize_fp8_blockwise(y, fmt, block)
    np.testing.assert_array_equal(codes2, codes)
    np.testing.assert_allclose(scales2, scales, rtol=4 * F32_EPS)


def test_fp8_blockwise_negation_flips_sign_bit() -> None:
    x = np.random.default_rng(3).standard_normal((5, 40)).astype(np.float32)
    c, s = quantize_fp8_blockwise(x, block=(2, 16))
    cn, sn = quantize_fp8_blockwise(-x, block=(2, 16))
    np.testing.assert_array_equal(cn, c ^ 0x80)
    np.testing.assert_array_equal(sn, s)


# ----------------------------------------------------------------------------- MXFP4


def test_e2m1_values_and_nearest() -> None:
    np.testing.assert_array_equal(E2M1_VALUES, [0, 0.5, 1, 1.5, 2, 3, 4, 6])
    np.testing.assert_array_equal(decode_e2m1(np.arange(16)), np.r_[E2M1_VALUES, -E2M1_VALUES])
    x = np.r_[np.linspace(-8, 8, 3201), [0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, 7.0, -0.0]]
    got = encode_e2m1(x)
    np.testing.assert_array_equal(got, _brute_nearest(x, decode_e2m1(np.arange(16))))
    np.testing.assert_array_equal(got[-9:], [0, 2, 2, 4, 4, 6, 6, 7, 8])  # ties to even, clamp


def test_mxfp4_scale_exponent_follows_spec() -> None:
    x = np.zeros((4, 32), np.float32)
    x[0, 3], x[1, 0], x[2, 5] = 5.0, -6.5, 8.0  # row 3: all zero
    codes, exps = quantize_mxfp4(x)
    np.testing.assert_array_equal(exps[:, 0], [0, 0, 1, 0])  # floor(log2(amax)) - 2
    assert codes[0, 3] == 6 and codes[1, 0] == 0xF and codes[2, 5] == 6  # 5->4 tie, -6.5 -> -6
    assert (codes[3] == 0).all() and exps.dtype == np.int16
    assert quantize_mxfp4(np.array([2.0**-140, 0.0]))[1][0] == -127  # clamped to E8M0


def _mx_x(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    x = rng.standard_normal(shape) * np.exp2(rng.integers(-20, 20, (*shape[:-1], 1)))
    x[..., :3] = 0.0
    return x.astype(np.float32)


@pytest.mark.parametrize("shape", [(4, 256), (3, 70), (2, 3, 33), (5,)])
def test_mxfp4_error_bound_idempotence_and_ragged(shape) -> None:
    x = _mx_x(np.random.default_rng(4), shape)
    codes, exps = quantize_mxfp4(x)
    nb = -(-shape[-1] // 32)
    assert codes.shape == shape and codes.dtype == np.uint8 and codes.max() <= 15
    assert exps.shape == (*shape[:-1], nb)
    y = dequantize_mxfp4(codes, exps)
    assert y.dtype == np.float32 and y.shape == shape
    pad = np.zeros((*shape[:-1], nb * 32))
    pad[..., : shape[-1]] = x
    xb = pad.reshape(*shape[:-1], nb, 32)
    yb = np.zeros_like(pad)
    yb[..., : shape[-1]] = y
    err = np.abs(xb - yb.reshape(xb.shape))
    amax = np.abs(xb).max(axis=-1)
    top = np.exp2(_floor_log2(amax))[..., None]  # bottom of the block's top binade
    half_ulp = top / 4  # E2M1 has 1 mantissa bit: half-ulp = 2**(E - 2)
    unclamped = np.abs(xb) <= 1.75 * top  # above 7 * 2**X the MX clamp to 6 * 2**X applies
    assert (err[unclamped] <= half_ulp.repeat(32, -1)[unclamped]).all()
    nz = amax > 0
    assert (err.max(axis=-1)[nz] <= amax[nz] / 4).all()  # half-ulp relative to the binade
    c2, e2 = quantize_mxfp4(y)
    np.testing.assert_array_equal(c2, codes)
    np.testing.assert_array_equal(e2, exps)
    cn, en = quantize_mxfp4(-x)
    np.testing.assert_array_equal(cn, codes ^ 8)
    np.testing.assert_array_equal(en, exps)


def test_mxfp4_bad_arguments() -> None:
    c, e = quantize_mxfp4(np.ones((2, 64)))
    for call, field in [
        (lambda: quantize_mxfp4(np.float32(1.0)), "x"),
        (lambda: quantize_mxfp4(np.array([np.inf])), "x"),
        (lambda: quantize_mxfp4(np.ones(4), block_size=0), "block_size"),
        (lambda: dequantize_mxfp4(c + 16, e), "codes"),
        (lambda: dequantize_mxfp4(c, e[:, :1]), "scale_exponents"),
        (lambda: dequantize_mxfp4(c, e + 200), "scale_exponents"),
    ]:
        with pytest.raises(SpecError) as err:
            call()
        assert err.value.field == field


# ----------------------------------------------------------------------------- NVFP4


@pytest.mark.parametrize("shape", [(8, 128), (3, 40), (2, 2, 16)])
def test_nvfp4_scales_error_bound_and_idempotence(shape) -> None:
    rng = np.random.default_rng(5)
    x = (rng.standard_normal(shape) * np.exp(rng.uniform(-2, 2, (*shape[:-1], 1)))).astype(
        np.float32
    )
    x[..., :16] = 0.0 if shape[-1] > 16 else x[..., :16]  # an all-zero block
    codes, sc, g = quantize_nvfp4(x)
    nb = -(-shape[-1] // 16)
    assert codes.shape == shape and sc.shape == (*shape[:-1], nb) and sc.dtype == np.uint8
    amax_t = np.abs(x).max()
    assert isinstance(g, np.float32) and g == np.float32(amax_t / 2688.0)
    pad = np.zeros((*shape[:-1], nb * 16))
    pad[..., : shape[-1]] = x
    xb = pad.reshape(*shape[:-1], nb, 16)
    amax_b = np.abs(xb).max(axis=-1)
    np.testing.assert_array_equal(sc, encode_fp8(amax_b / (6.0 * float(g)), "e4m3"))
    y = dequantize_nvfp4(codes, sc, g)
    assert y.dtype == np.float32 and y.shape == shape
    d = decode_fp8(sc, "e4m3").astype(np.float64) * float(g)  # element step of the block
    assert (d[amax_b > 0] >= 2.0**-6 * float(g)).all()  # normal E4M3 scales in this data
    yb = np.zeros_like(pad)
    yb[..., : shape[-1]] = y
    err = np.abs(xb - yb.reshape(xb.shape))
    # half-ulp of E2M1 at the top binade [4, 8) of the scaled block is 1 element step
    assert (err <= d[..., None] + F32_EPS * np.abs(xb)).all()
    nz = amax_b > 0
    assert (err.max(axis=-1)[nz] <= amax_b[nz] * (1 + 2.0**-4) / 6 * (1 + 1e-6)).all()
    c2, sc2, g2 = quantize_nvfp4(y)
    np.testing.assert_array_equal(c2, codes)
    np.testing.assert_array_equal(sc2, sc)
    np.testing.assert_allclose(g2, g, rtol=4 * F32_EPS)
    cn, scn, gn = quantize_nvfp4(-x)
    np.testing.assert_array_equal(cn, codes ^ 8)
    assert (scn == sc).all() and gn == g


def test_nvfp4_zeros_and_underflowing_block() -> None:
    codes, sc, g = quantize_nvfp4(np.zeros((2, 32)))
    assert g == 1.0 and (codes == 0).all() and (sc == 0).all()
    assert (dequantize_nvfp4(codes, sc, g) == 0).all()
    x = np.zeros(32)
    x[0], x[16] = 1.0, 1e-9  # second block's scale underflows E4M3 -> block reads as 0
    codes, sc, g = quantize_nvfp4(x)
    assert sc[1] == 0 and (dequantize_nvfp4(codes, sc, g)[16:] == 0).all()


def test_nvfp4_bad_arguments() -> None:
    c, s, g = quantize_nvfp4(np.ones((2, 32)))
    for call, field in [
        (lambda: quantize_nvfp4(np.array([[np.nan]])), "x"),
        (lambda: dequantize_nvfp4(c, s, -1.0), "global_scale"),
        (lambda: dequantize_nvfp4(c, s, float("inf")), "global_scale"),
        (lambda: dequantize_nvfp4(c, s, "1.0x"), "global_scale"),
        (lambda: dequantize_nvfp4(c, s[:, :1], g), "block_scale_codes"),
        (lambda: dequantize_nvfp4(c, np.full_like(s, 0x7F), g), "block_scale_codes"),
        (lambda: dequantize_nvfp4(c.astype(np.float32), s, g), "codes"),
    ]:
        with pytest.raises(SpecError) as err:
            call()
        assert err.value.field == field


# ----------------------------------------------------------------------------- INT-n


@SETTINGS
@given(
    bits=st.integers(2, 8),
    symmetric=st.booleans(),
    group=st.sampled_from([1, 4, 8, 16]),
    x=hnp.arrays(
        np.float32,
        st.tuples(st.integers(1, 3), st.sampled_from([16, 32])),
        elements=st.floats(-1e4, 1e4, width=32),
    ),
)
def test_int_error_bound_range_and_idempotence(bits, symmetric, group, x) -> None:
    q, s, z = quantize_int(x, bits, group, symmetric)
    assert q.shape == x.shape and s.shape == (x.shape[0], x.shape[1] // group)
    lo, hi = (-(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1) if symmetric else (0, 2**bits - 1)
    assert q.min() >= lo and q.max() <= hi and (z is None) == symmetric
    assert q.dtype == (np.int16 if not symmetric and bits == 8 else np.int8)
    y = dequantize_int(q, s, z)
    # asymmetric: + qmax * 2**-24 * scale from the float32 rounding of the scale
    bound = np.repeat(s.astype(np.float64), group, axis=-1) * (0.5 + hi * 2.0**-23)
    assert (np.abs(x - y.astype(np.float64)) <= bound + F32_EPS * np.abs(y)).all()
    q2, s2, z2 = quantize_int(y, bits, group, symmetric)
    np.testing.assert_array_equal(q2, q)
    live = (y.reshape((*s.shape, group)) != 0).any(axis=-1)  # all-zero groups reset to scale 1
    np.testing.assert_allclose(s2[live], s[live], rtol=8 * F32_EPS)
    if not symmetric:
        np.testing.assert_array_equal(z2[live], z[live])


def test_int_known_values_zeros_and_negatives() -> None:
    x = np.array([[-3.0, 1.5, 0.5, 0.0], [0.0, 0.0, 0.0, 0.0]], np.float32)
    q, s, z = quantize_int(x, 3, 4)  # qmax 3, scale 1
    np.testing.assert_array_equal(q, [[-3, 2, 0, 0], [0, 0, 0, 0]])  # ties to even
    np.testing.assert_array_equal(s, [[1.0], [1.0]])
    assert z is None
    qa, sa, za = quantize_int(x, 2, 2, symmetric=False)  # qmax 3, groups of 2
    np.testing.assert_array_equal(sa[:, 0], [1.5, 1.0])
    assert float(sa[0, 1]) <= 0.5 / 3 < float(np.nextafter(sa[0, 1], np.float32(1)))  # toward 0
    np.testing.assert_array_equal(za, [[2, 0], [0, 0]])  # -lo / scale = 2
    np.testing.assert_array_equal(qa, [[0, 3, 3, 0], [0, 0, 0, 0]])
    assert (dequantize_int(qa, sa, za)[x == 0] == 0).all()  # zero is exact
    qs, _, zs = quantize_int(np.array([-1.0, 1.0]), 2, 2, symmetric=False)
    np.testing.assert_array_equal(qs, [0, 3])  # both ends of the range are used
    np.testing.assert_array_equal(zs, [2])  # -lo / scale = 1.5 + tiny: half-up


def test_int_bad_arguments() -> None:
    x = np.ones((2, 8))
    for call, field in [
        (lambda: quantize_int(x, 1, 4), "bits"),
        (lambda: quantize_int(x, 9, 4), "bits"),
        (lambda: quantize_int(x, True, 4), "bits"),
        (lambda: quantize_int(x, 4, 3), "group_size"),
        (lambda: quantize_int(x, 4, 0), "group_size"),
        (lambda: quantize_int(np.array([[np.inf, 1.0]]), 4, 2), "x"),
        (lambda: dequantize_int(np.zeros((2, 8), np.int8), np.ones((2, 3))), "scales"),
        (lambda: dequantize_int(np.zeros((2, 8), np.int8), np.ones((2, 2)), np.ones(2)), "zeros"),
    ]:
        with pytest.raises(SpecError) as err:
            call()
        assert err.value.field == field


# ----------------------------------------------------------------------------- sizes


def test_quantized_nbytes_matches_dtype_bits() -> None:
    for n in (32, 4096, 7168 * 2048):
        assert quantized_nbytes(n, "mxfp4") == n * DType.MXFP4.bits / 8 == n * 4.25 / 8
        assert quantized_nbytes(n, DType.NVFP4) == n * DType.NVFP4.bits / 8 + 4 == n * 4.5 / 8 + 4
        assert quantized_nbytes(n, DType.FP8_E4M3) == n * DType.FP8_E4M3.bits / 8 == n
        assert quantized_nbytes(n, "fp8_e5m2", group_size=128, scale_bits=32) == n + n / 32
        assert quantized_nbytes(n, "int4", 32) == n / 2 + n / 16
        assert quantized_nbytes(n, "int4", 32, symmetric=False) == n / 2 + n / 16 + n / 64


def test_packed_arrays_have_the_computed_sizes() -> None:
    x = np.random.default_rng(6).standard_normal((64, 96)).astype(np.float32)
    n = x.size
    c, s = quantize_fp8_blockwise(x, block=(1, 32))
    assert c.nbytes == quantized_nbytes(n, "e4m3")
    assert c.nbytes + s.nbytes == quantized_nbytes(n, "e4m3", group_size=32, scale_bits=32)
    c, e = quantize_mxfp4(x)
    packed = pack_bits(c, 4)
    np.testing.assert_array_equal(unpack_bits(packed, 4, n).reshape(x.shape), c)
    e8m0 = (e.astype(np.int64) + 127).astype(np.uint8)  # stored E8M0 byte
    assert packed.nbytes + e8m0.nbytes == quantized_nbytes(n, "mxfp4")
    c, sc, g = quantize_nvfp4(x)
    assert pack_bits(c, 4).nbytes + sc.nbytes + g.nbytes == quantized_nbytes(n, "nvfp4")
    for bits in (2, 3, 4, 8):
        q, s, _ = quantize_int(x, bits, 32)
        pq = pack_bits(q, bits)
        np.testing.assert_array_equal(unpack_bits(pq, bits, n, signed=True).reshape(x.shape), q)
        size16 = pq.nbytes + s.astype(np.float16).nbytes
        assert size16 == quantized_nbytes(n, f"int{bits}", 32)
        assert pq.nbytes + s.nbytes == quantized_nbytes(n, f"int{bits}", 32, scale_bits=32)
        q, s, z = quantize_int(x, bits, 32, symmetric=False)
        size = pack_bits(q, bits).nbytes + s.astype(np.float16).nbytes + pack_bits(z, bits).nbytes
        assert size == quantized_nbytes(n, f"int{bits}", 32, symmetric=False)


def test_quantized_nbytes_bad_arguments() -> None:
    for kwargs, field in [
        ({"numel": 10, "fmt": "int9", "group_size": 2}, "fmt"),
        ({"numel": 10, "fmt": "fp6"}, "fmt"),
        ({"numel": 10, "fmt": "int4"}, "group_size"),
        ({"numel": -1, "fmt": "mxfp4"}, "numel"),
        ({"numel": 10, "fmt": "int4", "group_size": 0}, "group_size"),
        ({"numel": 10, "fmt": "int4", "group_size": 2, "scale_bits": 0}, "scale_bits"),
    ]:
        with pytest.raises(SpecError) as err:
            quantized_nbytes(**kwargs)
        assert err.value.field == field
