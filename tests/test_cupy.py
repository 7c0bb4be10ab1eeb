"""CuPy backend and its fused Gumbel-Softmax kernels.

Two kinds of tests:

* CPU checks of the kernel source, which run wherever a compiler is found
  (no GPU, no CuPy needed): ``nvcc`` compiles every kernel for sm_90 with no
  register spills, and a host program built from the same source (its
  Philox, noise, half conversion and per-thread passes are
  ``__host__ __device__``) is compared with :class:`gumbelxp.PortableRNG`
  and the generic path on NumPy.
* GPU tests, skipped with the reason from
  ``gumbelxp.conformance.support.unavailable_reason("cupy")`` where CuPy cannot run:
  the fused kernels against the generic path (the reference) and NumPy.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gumbelxp.conformance.support import unavailable_reason

import gumbelxp as gx
from gumbelxp._philox import gumbel_from_words, philox4x32
from gumbelxp._portable import PortableRNG

ROOT = Path(__file__).resolve().parents[1]


def _kernels_module():
    """backends/_cupy_kernels.py loaded on its own (it imports no CuPy)."""
    spec = importlib.util.spec_from_file_location("_gxp_cupy_kernels",
                                                  ROOT / "backends" / "_cupy_kernels.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


K = _kernels_module()
NVCC = shutil.which("nvcc")
CXX = shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")

# Random123's known-answer vectors for Philox-4x32-10: (counter, key, output)
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF, 0xFFFFFFFF), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]

# -------------------------------------------------------------------------
# the host harness: the kernel source's __host__ __device__ code on the CPU
# -------------------------------------------------------------------------
HARNESS = r"""
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vector>
#include "gxp_kernels.cuh"

static gxp_u64 arg(char** argv, int i) { return strtoull(argv[i], 0, 0); }

template <typename T>
static void rows(const char* mode, gxp_u32 k0, gxp_u32 k1, gxp_u64 start, gxp_i64 B, gxp_i64 n,
                 float it, int nt, FILE* in, FILE* out) {
  std::vector<T> x((size_t)(B * n)), y((size_t)(B * n));
  if (fread(x.data(), sizeof(T), x.size(), in) != x.size()) { fprintf(stderr, "short input\n"); exit(2); }
  std::vector<float> cache((size_t)n);
  for (gxp_i64 r = 0; r < B; ++r) {
    const T* xr = x.data() + r * n;
    T* yr = y.data() + r * n;
    const gxp_u64 s = start + (gxp_u64)(r * n);
    if (!strcmp(mode, "soft") || !strcmp(mode, "softcache")) {
      float* c = strcmp(mode, "softcache") ? (float*)0 : cache.data();
      // the block's threads, then the block reduction (here a fold)
      gxp_soft st = gxp_soft_init();
      for (int t = 0; t < nt; ++t) st = gxp_soft_merge(st, gxp_soft_pass1<T>(xr, n, s, k0, k1, it, t, nt, c), it);
      for (int t = 0; t < nt; ++t) gxp_soft_pass2<T>(xr, yr, n, s, k0, k1, it, st, t, nt, c);
    } else {
      gxp_arg a = gxp_arg_init();
      for (int t = 0; t < nt; ++t) a = gxp_arg_merge(a, gxp_arg_pass1<T>(xr, n, s, k0, k1, t, nt));
      if (!strcmp(mode, "hard")) {
        for (int t = 0; t < nt; ++t) gxp_hard_pass2<T>(yr, n, a, t, nt);
      } else {  // argmax
        fwrite(&a.i, sizeof(gxp_i64), 1, out);
      }
    }
  }
  if (strcmp(mode, "argmax")) fwrite(y.data(), sizeof(T), y.size(), out);
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const char* cmd = argv[1];
  if (!strcmp(cmd, "kat")) {  // kat c0 c1 c2 c3 k0 k1
    gxp_u32 w[4];
    gxp_philox_ctr(arg(argv, 2), arg(argv, 3), arg(argv, 4), arg(argv, 5), arg(argv, 6), arg(argv, 7), w);
    printf("%u %u %u %u\n", w[0], w[1], w[2], w[3]);
    return 0;
  }
  if (!strcmp(cmd, "stream")) {  // stream k0 k1 start n: words, uniform, noise (binary)
    const gxp_u32 k0 = arg(argv, 2), k1 = arg(argv, 3);
    const gxp_u64 start = arg(argv, 4);
    const gxp_i64 n = (gxp_i64)arg(argv, 5);
    for (gxp_i64 i = 0; i < n; ++i) {
      const gxp_u32 w = gxp_word(start + (gxp_u64)i, k0, k1);
      const float u = gxp_uniform_f32(w), g = gxp_gumbel_f32(w);
      fwrite(&w, 4, 1, stdout); fwrite(&u, 4, 1, stdout); fwrite(&g, 4, 1, stdout);
    }
    return 0;
  }
  if (!strcmp(cmd, "half")) {  // half: every f16 -> f32 -> f16, and f32 inputs -> f16
    for (gxp_u32 h = 0; h < 65536; ++h) {
      const float f = gxp_h2f((unsigned short)h);
      const unsigned short b = gxp_f2h(f);
      fwrite(&f, 4, 1, stdout); fwrite(&b, 2, 1, stdout);
    }
    float f;
    while (fread(&f, 4, 1, stdin) == 1) { const unsigned short b = gxp_f2h(f); fwrite(&b, 2, 1, stdout); }
    return 0;
  }
  // rows MODE DTYPE k0 k1 start B n it nt < x > y   (MODE soft|softcache|hard|argmax)
  const char* mode = argv[2];
  const gxp_u32 k0 = arg(argv, 4), k1 = arg(argv, 5);
  const gxp_u64 start = arg(argv, 6);
  const gxp_i64 B = (gxp_i64)arg(argv, 7), n = (gxp_i64)arg(argv, 8);
  const float it = strtof(argv[9], 0);
  const int nt = atoi(argv[10]);
  if (!strcmp(argv[3], "f32")) rows<float>(mode, k0, k1, start, B, n, it, nt, stdin, stdout);
  else rows<gxp_half>(mode, k0, k1, start, B, n, it, nt, stdin, stdout);
  return 0;
}
"""


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    """The host program, built with a host C++ compiler (or nvcc)."""
    if CXX is None and NVCC is None:
        pytest.skip("no C++ compiler (g++, c++, clang++ or nvcc) to build the host harness")
    d = tmp_path_factory.mktemp("gxp_harness")
    (d / "gxp_kernels.cuh").write_text(K.CUDA_SOURCE)
    (d / "harness.cpp").write_text(HARNESS)
    exe = d / "harness"
    if CXX is not None:  # no fast math, no FMA contraction: IEEE like the device
        cmd = [CXX, "-O1", "-std=c++14", "-ffp-contract=off", "-fno-fast-math",
               "harness.cpp", "-o", str(exe), "-lm"]
    else:
        cmd = [NVCC, "-x", "c++", "-std=c++14", "harness.cpp", "-o", str(exe)]
    r = subprocess.run(cmd, cwd=d, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr

    def run(*args, stdin: bytes = b"") -> bytes:
        p = subprocess.run([str(exe), *map(str, args)], input=stdin, capture_output=True,
                           timeout=60)
        assert p.returncode == 0, p.stderr.decode()
        return p.stdout

    return run


def _portable(seed: int, start: int, n: int):
    """PortableRNG's words, float32 uniforms and float32 noise on NumPy."""
    w = PortableRNG.words(gx.backends.get_backend("numpy").namespace, np.uint64, None,
                          PortableRNG(seed).key, start, n)
    u = np.asarray(PortableRNG(seed, start).uniform((n,), dtype=np.float32))
    g = np.asarray(gumbel_from_words(np, w.reshape(n, 1), np.float32))
    return np.asarray(w, dtype=np.uint32), u, g


def test_kernel_source_is_nvrtc_ready():
    """NVRTC (CuPy's compiler) sees no toolkit headers: the source includes
    none, and compiles without fast math."""
    assert not re.search(r"^\s*#\s*include", K.CUDA_SOURCE, re.M)
    assert not any("fast" in o for o in K.NVRTC_OPTIONS)
    for name in K.KERNEL_NAMES:
        assert re.search(rf"\b{name}\b|gxp_gumbel_\w+_##SUF", K.CUDA_SOURCE)


@pytest.mark.skipif(NVCC is None, reason="nvcc not found: the CUDA kernels are not compiled here")
def test_nvcc_compiles_every_kernel_without_spills(tmp_path):
    """Device compile for sm_90 (H100/H200): every kernel is there, with no
    register spills and <= 64 registers (so 1024-thread blocks launch)."""
    src = tmp_path / "k.cu"
    src.write_text(K.CUDA_SOURCE)
    r = subprocess.run([NVCC, "-arch=sm_90", "-cubin", "--std=c++14", "-Xptxas", "-v",
                        "-o", str(tmp_path / "k.cubin"), str(src)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    log = r.stdout + r.stderr
    props = dict(re.findall(r"Function properties for (\w+)\n(.*?)\n", log))
    regs = dict(re.findall(r"Compiling entry function '(\w+)'.*?Used (\d+) registers", log, re.S))
    for name in K.KERNEL_NAMES:
        assert name in props, f"{name} not compiled"
        assert "0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads" in props[name], (
            name, props[name])
        assert int(regs[name]) <= 64, (name, regs[name])


@pytest.mark.parametrize("ctr,key,expected", KAT)
def test_host_philox_known_answers(harness, ctr, key, expected):
    out = tuple(int(v) for v in harness("kat", *ctr, *key).split())
    assert out == expected
    # and the array-API Philox the kernel must agree with
    cols = philox4x32(np, tuple(np.array([c], dtype=np.uint64) for c in ctr), key)
    assert tuple(int(c[0]) for c in cols) == expected


STREAMS = [  # (seed, start): counter carries across 2**32 blocks, odd starts
    (0, 0), (1, 3), (42, 1001), (2**32 + 5, 4 * (2**32 - 3) + 2), (2**64 - 1, 2**40 + 1),
    (0xDEADBEEFCAFEF00D, 7),
]


@pytest.mark.parametrize("seed,start", STREAMS)
def test_host_words_uniforms_noise_match_portable_rng(harness, seed, start):
    """The kernel's words and uniforms equal PortableRNG's bit for bit; its
    noise is gumbel_from_words within float32 rounding of log/log1p."""
    n = 777
    raw = np.frombuffer(harness("stream", seed & 0xFFFFFFFF, seed >> 32, start, n),
                        dtype=np.uint32).reshape(n, 3)
    words = raw[:, 0]
    u = raw[:, 1].view(np.float32)
    g = raw[:, 2].view(np.float32)
    w_ref, u_ref, g_ref = _portable(seed, start, n)
    np.testing.assert_array_equal(words, w_ref)
    np.testing.assert_array_equal(u.view(np.uint32), u_ref.view(np.uint32))
    assert np.isfinite(g).all()
    np.testing.assert_allclose(g, g_ref, rtol=2e-6, atol=1e-6)
    # within 2 ulp at the scale of max(|g|, 1): g = -log(E) near 0 cancels, so
    # a 1-ulp difference in E (libm logf vs NumPy's SIMD log) shows there
    scale = np.spacing(np.maximum(np.abs(g_ref), np.float32(1)))
    assert (np.abs(g - g_ref) <= 2 * scale).all()


def test_host_noise_extremes(harness):
    """The words that give the extreme noise: x at the grid's ends, both
    halves. Finite, in PortableRNG's documented range."""
    n = 4096
    raw = np.frombuffer(harness("stream", 7, 0, 0, n), dtype=np.uint32).reshape(n, 3)
    g = raw[:, 2].view(np.float32)
    assert np.isfinite(g).all()
    # direct transform of the extreme words through the reference
    ext = np.array([0, 1, 0x7FFFFFFF, 0x80000000, 0x80000001, 0xFFFFFFFF], dtype=np.uint64)
    ref = np.asarray(gumbel_from_words(np, ext.reshape(-1, 1), np.float32))
    assert np.isfinite(ref).all() and ref.min() > -3.2 and ref.max() < 22.9


def test_host_half_conversion(harness):
    """The host fallback of the half conversions (the device uses PTX cvt):
    every half round-trips and float32 rounds to nearest even like NumPy."""
    rng = np.random.default_rng(0)
    f = np.concatenate([
        rng.standard_normal(20000).astype(np.float32) * np.float32(1000),
        rng.uniform(-7e-5, 7e-5, 20000).astype(np.float32),  # subnormal halves
        np.array([65504, 65519.99, 65520, 1e9, 6e-8, 2.98e-8, 2.9802322e-8, -0.0, np.inf,
                  -np.inf], dtype=np.float32),
    ])
    out = harness("half", stdin=f.tobytes())
    table = np.frombuffer(out[: 6 * 65536], dtype=np.uint8).reshape(65536, 6)
    as_f = table[:, :4].copy().view(np.float32).ravel()
    back = table[:, 4:].copy().view(np.uint16).ravel()
    h = np.arange(65536, dtype=np.uint16)
    ref = h.view(np.float16).astype(np.float32)
    np.testing.assert_array_equal(as_f.view(np.uint32)[~np.isnan(ref)],
                                  ref.view(np.uint32)[~np.isnan(ref)])
    finite = np.isfinite(ref)
    np.testing.assert_array_equal(back[finite], h[finite])
    conv = np.frombuffer(out[6 * 65536:], dtype=np.uint16)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(conv, f.astype(np.float16).view(np.uint16))


def _rows(harness, mode, dtype, seed, start, x, it, nt):
    B, n = x.shape
    out = harness("rows", mode, dtype, seed & 0xFFFFFFFF, seed >> 32, start, B, n,
                  repr(float(np.float32(it))), nt, stdin=x.tobytes())
    if mode == "argmax":
        return np.frombuffer(out, dtype=np.int64)
    return np.frombuffer(out, dtype=x.dtype).reshape(B, n)


def _logits(B, n, seed, dtype=np.float32, masks=True):
    r = np.random.default_rng(seed)
    x = (r.standard_normal((B, n)) * 3).astype(dtype)
    if masks and n > 2:
        x[r.random((B, n)) < 0.2] = -np.inf
        x[:, 0] = 0.5  # at least one unmasked category per row
    return x


CASES = [  # (B, n, counter, threads)
    (3, 1, 0, 32), (4, 3, 1, 32), (5, 37, 6, 32), (3, 1024, 0, 128), (2, 1025, 3, 256),
    (2, 5003, 2**33 + 1, 1024),
]


@pytest.mark.parametrize("B,n,counter,nt", CASES)
@pytest.mark.parametrize("mode", ["soft", "softcache"])
@pytest.mark.parametrize("tau", [1.0, 0.37])
def test_host_rows_soft_match_generic(harness, B, n, counter, nt, mode, tau):
    """The per-thread passes, folded as the block reduction folds them, give
    the generic gumbel_softmax of PortableRNG(seed, counter) on NumPy, and
    advance the stream the same way (row r starts at counter + r * n)."""
    seed = 1234567 + n
    x = _logits(B, n, n)
    it = 1.0 if tau == 1.0 else 1.0 / tau
    y = _rows(harness, mode, "f32", seed, counter, x, it, nt)
    rng = PortableRNG(seed, counter)
    ref = gx.gumbel_softmax(x, tau=tau, rng=rng)
    assert rng.counter == counter + B * n
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)
    assert (y[x == -np.inf] == 0).all()


@pytest.mark.parametrize("B,n,counter,nt", CASES)
def test_host_rows_hard_and_argmax_match_generic(harness, B, n, counter, nt):
    seed = 99 + n
    x = _logits(B, n, 7 * n)
    hard = _rows(harness, "hard", "f32", seed, counter, x, 1.0, nt)
    ref = gx.gumbel_softmax(x, hard=True, rng=PortableRNG(seed, counter))
    np.testing.assert_array_equal(hard, ref)  # exact one-hot, same index
    assert set(np.unique(hard)) <= {0.0, 1.0} and (hard.sum(axis=-1) == 1).all()
    idx = _rows(harness, "argmax", "f32", seed, counter, x, 1.0, nt)
    np.testing.assert_array_equal(idx, gx.gumbel_max(x, rng=PortableRNG(seed, counter)))


def test_host_rows_bad_slices_are_nan_like_generic(harness):
    """NaN, +inf or all -inf logits: that row NaN (soft and hard), the others
    untouched; argmax picks the first NaN / +inf, like NumPy."""
    x = _logits(5, 40, 3, masks=False)
    x[1, 7] = np.nan
    x[2, 30] = np.inf
    x[3, :] = -np.inf
    for mode in ("soft", "softcache", "hard"):
        y = _rows(harness, mode, "f32", 5, 0, x, 1.0, 32)
        ref = gx.gumbel_softmax(x, hard=mode == "hard", rng=PortableRNG(5))
        np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
        assert np.isnan(y[1:4]).all() and not np.isnan(y[[0, 4]]).any()
        np.testing.assert_allclose(y[[0, 4]], ref[[0, 4]], rtol=1e-5, atol=1e-6)
    idx = _rows(harness, "argmax", "f32", 5, 0, x, 1.0, 32)
    np.testing.assert_array_equal(idx, gx.gumbel_max(x, rng=PortableRNG(5)))


@pytest.mark.parametrize("mode", ["softcache", "hard"])
def test_host_rows_float16(harness, mode):
    """float16 logits: read as half, computed in float32, written as half."""
    x = _logits(4, 300, 11, dtype=np.float16)
    y = _rows(harness, mode, "f16", 77, 5, x, 1.0 / 0.5, 64)
    ref = gx.gumbel_softmax(x, tau=0.5, hard=mode == "hard", rng=PortableRNG(77, 5))
    assert y.dtype == ref.dtype == np.float16
    if mode == "hard":
        np.testing.assert_array_equal(y, ref)
    else:
        np.testing.assert_allclose(y.astype(np.float32), ref.astype(np.float32),
                                   rtol=2e-3, atol=1e-3)


def test_threads_for():
    assert K.threads_for(1) == 32
    assert K.threads_for(1024) == 64
    assert K.threads_for(4096) == 256
    assert K.threads_for(50257) == 1024
    assert all(K.threads_for(n) % 32 == 0 and K.threads_for(n) <= 1024
               for n in range(1, 70000, 997))


def test_adapter_imports_without_a_gpu():
    """Importing the adapter (and is_generator on foreign objects) needs
    CuPy, not a device."""
    pytest.importorskip("cupy")
    from gumbelxp.backends import get_backend

    be = get_backend("cupy")
    assert be.name == "cupy" and not be.is_generator(3) and not be.is_generator(None)


def test_bench_gpu_is_importable():
    from gumbelxp.conformance.bench import gpu as _bench_gpu

    assert callable(_bench_gpu.main)
    assert _bench_gpu.SIZES == [(4096, 1024), (16384, 4096), (64, 50257)]


# -------------------------------------------------------------------------
# on a GPU
# -------------------------------------------------------------------------
CUPY_WHY = unavailable_reason("cupy")
gpu = pytest.mark.skipif(CUPY_WHY is not None, reason=f"needs CuPy on a GPU: {CUPY_WHY}")


@pytest.fixture
def cp():
    if CUPY_WHY is not None:
        pytest.skip(f"needs CuPy on a GPU: {CUPY_WHY}")
    import cupy

    return cupy


@pytest.fixture
def be(cp):
    from gumbelxp.backends import get_backend

    b = get_backend("cupy")
    saved = b.use_fused
    b.use_fused = True
    yield b
    b.use_fused = saved


def _generic(be, f, *args, **kwargs):
    """``f`` on the generic path (fused kernels off)."""
    saved = be.use_fused
    be.use_fused = False
    try:
        return f(*args, **kwargs)
    finally:
        be.use_fused = saved


@gpu
@pytest.mark.gpu
@pytest.mark.parametrize("seed,start", STREAMS)
def test_gpu_words_uniforms_noise_match_portable_rng(cp, seed, start):
    n = 4099
    key = (seed & 0xFFFFFFFF, seed >> 32)
    w_ref, u_ref, g_ref = _portable(seed, start, n)
    np.testing.assert_array_equal(K.philox_words(key, start, n).get(), w_ref)
    np.testing.assert_array_equal(K.portable_uniform(key, start, n).get().view(np.uint32),
                                  u_ref.view(np.uint32))
    np.testing.assert_allclose(K.portable_noise(key, start, n).get(), g_ref, rtol=2e-6, atol=1e-6)
    # and PortableRNG itself run on CuPy arrays
    rng = PortableRNG(seed, start)
    np.testing.assert_array_equal(rng.random_bits((n,), xp="cupy").get().astype(np.uint32), w_ref)


SHAPES = [(1, 1), (4, 7), (3, 1024), (2, 3, 129), (5, 4096), (2, 50257), (3, 20000)]


@gpu
@pytest.mark.gpu
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("tau", [1.0, 0.5])
def test_gpu_fused_softmax_matches_generic_and_numpy(cp, be, shape, dtype, tau):
    x_np = _logits(int(np.prod(shape[:-1])), shape[-1], 1, dtype=np.dtype(dtype)).reshape(shape)
    x = cp.asarray(x_np)
    r1, r2, r3 = PortableRNG(3, 5), PortableRNG(3, 5), PortableRNG(3, 5)
    y = gx.gumbel_softmax(x, tau=tau, rng=r1)
    ref = _generic(be, gx.gumbel_softmax, x, tau=tau, rng=r2)
    host = gx.gumbel_softmax(x_np, tau=tau, rng=r3)
    assert isinstance(y, cp.ndarray) and y.dtype == x.dtype and y.shape == x.shape
    assert y.device == x.device
    assert r1.counter == r2.counter == r3.counter == 5 + x.size
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=2e-3, atol=1e-3)
    np.testing.assert_allclose(y.get().astype(np.float64), ref.get().astype(np.float64), **tol)
    np.testing.assert_allclose(y.get().astype(np.float64), host.astype(np.float64), **tol)
    assert (y.get()[x_np == -np.inf] == 0).all()


@gpu
@pytest.mark.gpu
@pytest.mark.parametrize("shape", SHAPES)
def test_gpu_fused_hard_is_exact_one_hot(cp, be, shape):
    x_np = _logits(int(np.prod(shape[:-1])), shape[-1], 2).reshape(shape)
    x = cp.asarray(x_np)
    y = gx.gumbel_softmax(x, hard=True, rng=PortableRNG(9)).get()
    ref = _generic(be, gx.gumbel_softmax, x, hard=True, rng=PortableRNG(9)).get()
    assert set(np.unique(y)) <= {0.0, 1.0} and (y.sum(axis=-1) == 1).all()
    np.testing.assert_array_equal(y, ref)
    np.testing.assert_array_equal(y, gx.gumbel_softmax(x_np, hard=True, rng=PortableRNG(9)))
    idx = gx.gumbel_max(x, rng=PortableRNG(9))
    assert idx.dtype == cp.int64
    np.testing.assert_array_equal(idx.get(), np.argmax(y, axis=-1))
    np.testing.assert_array_equal(gx.gumbel_max(x, keepdims=True, rng=PortableRNG(9)).get(),
                                  np.argmax(y, axis=-1)[..., None])


@gpu
@pytest.mark.gpu
def test_gpu_fused_bad_slices(cp, be):
    x_np = _logits(5, 40, 3, masks=False)
    x_np[1, 7], x_np[2, 30], x_np[3, :] = np.nan, np.inf, -np.inf
    x = cp.asarray(x_np)
    for hard in (False, True):
        y = gx.gumbel_softmax(x, hard=hard, rng=PortableRNG(5)).get()
        assert np.isnan(y[1:4]).all() and not np.isnan(y[[0, 4]]).any()
    with pytest.raises(ValueError, match="logits\\[1, :\\]"):
        gx.gumbel_softmax(x, validate=True, rng=1)


@gpu
@pytest.mark.gpu
def test_gpu_seeds_and_default_generator(cp, be):
    x = cp.asarray(_logits(8, 1000, 4))
    a, b = gx.gumbel_softmax(x, rng=11), gx.gumbel_softmax(x, rng=11)
    cp.testing.assert_array_equal(a, b)
    # an int seed on the fused path is PortableRNG(seed)'s stream
    cp.testing.assert_allclose(a, gx.gumbel_softmax(x, rng=PortableRNG(11)), rtol=1e-6)
    # None: CuPy's default generator of the device (seedable), fresh each call
    cp.random.seed(0)
    c = gx.gumbel_softmax(x)
    cp.random.seed(0)
    cp.testing.assert_array_equal(c, gx.gumbel_softmax(x))
    assert not bool(cp.all(gx.gumbel_softmax(x) == c))
    assert bool(cp.all(cp.isfinite(c))) and bool(cp.allclose(c.sum(axis=-1), 1, atol=1e-5))


@gpu
@pytest.mark.gpu
def test_gpu_fallbacks(cp, be):
    """float64, another axis, an array tau, a native generator: the generic
    path, same results as NumPy's where PortableRNG is the source."""
    x_np = _logits(6, 33, 5).astype(np.float64)
    x = cp.asarray(x_np)
    cp.testing.assert_allclose(gx.gumbel_softmax(x, rng=PortableRNG(1)),
                               gx.gumbel_softmax(x_np, rng=PortableRNG(1)), rtol=1e-12, atol=1e-14)
    xt = cp.asarray(x_np.T.astype(np.float32))
    y = gx.gumbel_softmax(xt, axis=0, rng=PortableRNG(1))
    np.testing.assert_allclose(y.get(), gx.gumbel_softmax(x_np.T.astype(np.float32), axis=0,
                                                          rng=PortableRNG(1)), rtol=1e-5, atol=1e-6)
    # non-contiguous rows along the last axis: fused after a copy, same values
    xs = cp.asarray(_logits(6, 64, 8))[:, ::2]
    np.testing.assert_allclose(gx.gumbel_softmax(xs, rng=PortableRNG(2)).get(),
                               gx.gumbel_softmax(xs.get(), rng=PortableRNG(2)), rtol=1e-5, atol=1e-6)
    tau = cp.full((6,), 0.5, dtype=cp.float32)
    assert gx.gumbel_softmax(x.astype(cp.float32), tau=tau, rng=3).shape == (6, 33)
    for gen in (cp.random.default_rng(0), cp.random.RandomState(0)):
        y = gx.gumbel_softmax(x, rng=gen)
        assert isinstance(y, cp.ndarray) and bool(cp.all(cp.isfinite(y)))


@gpu
@pytest.mark.gpu
def test_gpu_adapter_uniform_and_noise(cp, be):
    for rng in (None, 5, cp.random.default_rng(1), cp.random.RandomState(2)):
        u = be.uniform(rng, (1000, 100), cp.float32, cp.cuda.Device())
        assert isinstance(u, cp.ndarray) and u.dtype == cp.float32
        assert bool(cp.all((u > 0) & (u < 1)))
    cp.testing.assert_array_equal(be.uniform(5, (10,), cp.float64, None),
                                  be.uniform(5, (10,), cp.float64, None))
    g = gx.gumbel((200_000,), xp="cupy", rng=0)
    assert isinstance(g, cp.ndarray) and abs(float(g.mean()) - 0.5772) < 0.02
    torch = sys.modules.get("torch")
    if torch is not None:
        with pytest.raises(TypeError, match="cupy"):
            gx.gumbel_softmax(cp.zeros((2, 3), dtype=cp.float32), rng=torch.Generator())


@gpu
@pytest.mark.gpu
def test_gpu_other_device(cp, be):
    if cp.cuda.runtime.getDeviceCount() < 2:
        pytest.skip("needs two GPUs")
    with cp.cuda.Device(1):
        x = cp.asarray(_logits(4, 100, 1))
    for rng in (None, 3, PortableRNG(3)):
        y = gx.gumbel_softmax(x, rng=rng)
        assert y.device.id == 1


@gpu
@pytest.mark.gpu
def test_gpu_cupy_without_torch(tmp_path):
    """An environment with numpy, array-api-compat and cupy only: torch is
    made unimportable in a subprocess."""
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import cupy, gumbelxp as gx\n"
        "x = cupy.zeros((4, 1000), dtype=cupy.float32)\n"
        "y = gx.gumbel_softmax(x, rng=gx.PortableRNG(0))\n"
        "assert isinstance(y, cupy.ndarray) and bool(abs(y.sum() - 4) < 1e-3)\n"
        "assert gx.gumbel_max(x, rng=1).shape == (4,)\n"
        "print('ok')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr
