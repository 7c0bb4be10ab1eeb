"""Fused Gumbel-Softmax kernels for CuPy: Philox noise made in registers.

One thread block per row. Pass 1 generates Philox-4x32-10 words in
registers with exactly :class:`gumbelxp.PortableRNG`'s stream layout (key =
seed's low and high words, block counter ``(b lo, b hi, 0, 0)``, stream
word ``p`` = lane ``p % 4`` of block ``p // 4``, one word per float32
element, element ``(r, j)`` of a ``(B, n)`` draw starting at counter ``c``
uses word ``c + r * n + j``), turns each word into Gumbel noise with the
same log / log1p split as :func:`gumbelxp._philox.gumbel_from_words`, and
reduces the row's max and sum of ``exp((s - max) / tau)`` online. Pass 2
writes ``softmax``: from the scores cached in shared memory when the row
fits there, otherwise recomputing the noise from the counter (a
counter-based generator can). The noise is never written to global memory.
Hard mode reduces the row's argmax in pass 1 and writes the one-hot in
pass 2 without reading anything.

The CUDA source includes no header, so NVRTC (CuPy's compiler) needs
nothing from a toolkit. The Philox, noise, half conversion and per-thread
pass functions are ``__host__ __device__`` (plain ``static inline`` when
compiled by a host C++ compiler): ``tests/test_cupy.py`` builds them into a
host program and compares them with :class:`PortableRNG` on NumPy, so the
kernel's arithmetic is checked on machines without a GPU. Only the block
reductions and the launch are device-only.

Nothing here imports CuPy at import time.
"""

from __future__ import annotations

import math
import os
from typing import Any

CUDA_SOURCE = r"""
// gumbelxp fused Gumbel-Softmax kernels. No #include: NVRTC-ready.
#if defined(__CUDACC__)
#define GXP_HD __host__ __device__ __forceinline__
#else
#define GXP_HD static inline
#endif

typedef unsigned int gxp_u32;
typedef unsigned long long gxp_u64;
typedef long long gxp_i64;

GXP_HD float gxp_from_bits(gxp_u32 u) { union { gxp_u32 u; float f; } c; c.u = u; return c.f; }
GXP_HD gxp_u32 gxp_to_bits(float f) { union { gxp_u32 u; float f; } c; c.f = f; return c.u; }
#define GXP_INF gxp_from_bits(0x7F800000u)
#define GXP_NAN gxp_from_bits(0x7FC00000u)

// ---- Philox-4x32-10 (Salmon et al. 2011), PortableRNG's layout ----------
// any 128-bit counter (for known-answer tests)
GXP_HD void gxp_philox_ctr(gxp_u32 c0, gxp_u32 c1, gxp_u32 c2, gxp_u32 c3, gxp_u32 k0,
                           gxp_u32 k1, gxp_u32 out[4]) {
#pragma unroll
  for (int r = 0; r < 10; ++r) {
    if (r > 0) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
    const gxp_u64 p0 = (gxp_u64)0xD2511F53u * (gxp_u64)c0;  // mul.wide.u32
    const gxp_u64 p1 = (gxp_u64)0xCD9E8D57u * (gxp_u64)c2;
    const gxp_u32 hi0 = (gxp_u32)(p0 >> 32), lo0 = (gxp_u32)p0;
    const gxp_u32 hi1 = (gxp_u32)(p1 >> 32), lo1 = (gxp_u32)p1;
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
  }
  out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

// block b of the stream: counter (b lo, b hi, 0, 0)
GXP_HD void gxp_philox(gxp_u64 block, gxp_u32 k0, gxp_u32 k1, gxp_u32 out[4]) {
  gxp_philox_ctr((gxp_u32)block, (gxp_u32)(block >> 32), 0u, 0u, k0, k1, out);
}

// word p of the stream of key (k0, k1)
GXP_HD gxp_u32 gxp_word(gxp_u64 p, gxp_u32 k0, gxp_u32 k1) {
  gxp_u32 w[4];
  gxp_philox(p >> 2, k0, k1, w);
  const int lane = (int)(p & 3u);
  return lane == 0 ? w[0] : lane == 1 ? w[1] : lane == 2 ? w[2] : w[3];
}

// PortableRNG.uniform, float32: ((w >> 9) + 0.5) * 2**-23
GXP_HD float gxp_uniform_f32(gxp_u32 w) {
  return ((float)(w >> 9) + 0.5f) * 1.1920928955078125e-07f;
}

// gumbel_from_words, float32: top bit picks the half, x in (0, 1/2] on a
// 2**-32 grid, E = -log1p(-x) or -log(x), g = -log(E).
GXP_HD float gxp_gumbel_f32(gxp_u32 w) {
  const float r = (float)(w & 0x7FFFFFFFu);
  const float x = (r + 0.5f) * 2.3283064365386963e-10f;
  const float e = (w >> 31) ? -log1pf(-x) : -logf(x);
  return -logf(e);
}

// ---- element types: float and IEEE half (raw bits) ----------------------
struct gxp_half { unsigned short bits; };

GXP_HD float gxp_h2f(unsigned short h) {
#if defined(__CUDA_ARCH__)
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
  return f;
#else
  const gxp_u32 sign = ((gxp_u32)h & 0x8000u) << 16, e = ((gxp_u32)h >> 10) & 0x1Fu,
                m = (gxp_u32)h & 0x3FFu;
  if (e == 0u) {  // zero or subnormal: m * 2**-24
    const float v = (float)m * 5.9604644775390625e-08f;
    return sign ? -v : v;
  }
  if (e == 31u) return gxp_from_bits(sign | 0x7F800000u | (m << 13));
  return gxp_from_bits(sign | ((e + 112u) << 23) | (m << 13));
#endif
}

GXP_HD unsigned short gxp_f2h(float f) {  // round to nearest even
#if defined(__CUDA_ARCH__)
  unsigned short h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
  return h;
#else
  const gxp_u32 x = gxp_to_bits(f), sign = (x >> 16) & 0x8000u, ax = x & 0x7FFFFFFFu;
  if (ax > 0x7F800000u) return (unsigned short)(sign | 0x7E00u);   // NaN
  if (ax >= 0x477FF000u) return (unsigned short)(sign | 0x7C00u);  // >= 65520: inf
  if (ax >= 0x38800000u) {  // normal half: rebias, round 13 bits to even
    gxp_u32 m = ax - 0x38000000u;
    m += 0x0FFFu + ((m >> 13) & 1u);
    return (unsigned short)(sign | (m >> 13));
  }
  // subnormal half: k * 2**-24, k = round-to-even(|f| * 2**24) <= 1024
  return (unsigned short)(sign | (gxp_u32)rintf(gxp_from_bits(ax) * 16777216.0f));
#endif
}

GXP_HD float gxp_ld(const float* p, gxp_i64 j) { return p[j]; }
GXP_HD void gxp_st(float* p, gxp_i64 j, float v) { p[j] = v; }
GXP_HD float gxp_ld(const gxp_half* p, gxp_i64 j) { return gxp_h2f(p[j].bits); }
GXP_HD void gxp_st(gxp_half* p, gxp_i64 j, float v) { p[j].bits = gxp_f2h(v); }

// ---- online softmax statistics: running max m, sum of exp((s - m) * it) -
struct gxp_soft { float m; float s; int bad; };  // bad: a NaN or +inf score

GXP_HD gxp_soft gxp_soft_init() { gxp_soft r; r.m = -GXP_INF; r.s = 0.0f; r.bad = 0; return r; }

GXP_HD void gxp_soft_push(gxp_soft* st, float v, float it) {
  if (!(v < GXP_INF)) {
    st->bad = 1;
  } else if (v > st->m) {
    st->s = st->s * expf((st->m - v) * it) + 1.0f;  // m = -inf: s = 0 * 0 + 1
    st->m = v;
  } else if (v > -GXP_INF) {
    st->s += expf((v - st->m) * it);
  }
}

// commutative (IEEE + and max are), so every lane of a butterfly agrees
GXP_HD gxp_soft gxp_soft_merge(gxp_soft a, gxp_soft b, float it) {
  gxp_soft r;
  r.bad = a.bad | b.bad;
  r.m = a.m > b.m ? a.m : b.m;
  r.s = (a.s > 0.0f ? a.s * expf((a.m - r.m) * it) : 0.0f)
      + (b.s > 0.0f ? b.s * expf((b.m - r.m) * it) : 0.0f);
  return r;
}

// ---- argmax with numpy's rules: NaN first, then larger, then lower index -
struct gxp_arg { float v; gxp_i64 i; };

GXP_HD gxp_arg gxp_arg_init() { gxp_arg r; r.v = -GXP_INF; r.i = 0x7FFFFFFFFFFFFFFFLL; return r; }

GXP_HD int gxp_arg_before(gxp_arg a, gxp_arg b) {  // does a come before b?
  if (a.v != a.v) return !(b.v != b.v) || a.i < b.i;
  if (b.v != b.v) return 0;
  return a.v > b.v || (a.v == b.v && a.i < b.i);
}

GXP_HD gxp_arg gxp_arg_merge(gxp_arg a, gxp_arg b) { return gxp_arg_before(b, a) ? b : a; }

// ---- per-thread passes over one row --------------------------------------
// The row's element j is stream word start + j. Thread tid of nt takes the
// Philox blocks q = tid, tid + nt, ... of the row (block q covers elements
// 4q - off .. 4q - off + 3, off = start % 4): one Philox call per 4 elements.
// gxp_row_scores is that loop, once: it calls f(j, x[j] + g_j) for each of
// the thread's elements; the passes below differ only in what f does.

template <typename T, typename F>
GXP_HD void gxp_row_scores(const T* x, gxp_i64 n, gxp_u64 start, gxp_u32 k0, gxp_u32 k1,
                           int tid, int nt, F f) {
  const gxp_u64 fb = start >> 2;
  const gxp_i64 off = (gxp_i64)(start & 3u);
  const gxp_i64 nb = (off + n + 3) >> 2;
  for (gxp_i64 q = tid; q < nb; q += nt) {
    gxp_u32 w[4];
    gxp_philox(fb + (gxp_u64)q, k0, k1, w);
#pragma unroll
    for (int l = 0; l < 4; ++l) {
      const gxp_i64 j = 4 * q + l - off;
      if (j >= 0 && j < n) f(j, gxp_ld(x, j) + gxp_gumbel_f32(w[l]));
    }
  }
}

template <typename T>
GXP_HD gxp_soft gxp_soft_pass1(const T* x, gxp_i64 n, gxp_u64 start, gxp_u32 k0, gxp_u32 k1,
                               float it, int tid, int nt, float* cache) {
  gxp_soft st = gxp_soft_init();
  gxp_row_scores(x, n, start, k0, k1, tid, nt, [&](gxp_i64 j, float v) {
    if (cache) cache[j] = v;
    gxp_soft_push(&st, v, it);
  });
  return st;
}

template <typename T>
GXP_HD void gxp_soft_pass2(const T* x, T* y, gxp_i64 n, gxp_u64 start, gxp_u32 k0, gxp_u32 k1,
                           float it, gxp_soft st, int tid, int nt, const float* cache) {
  if (st.bad || !(st.m > -GXP_INF)) {  // NaN / +inf score or all -inf: NaN row
    for (gxp_i64 j = tid; j < n; j += nt) gxp_st(y, j, GXP_NAN);
    return;
  }
  const float inv = 1.0f / st.s;
  if (cache) {
    for (gxp_i64 j = tid; j < n; j += nt) gxp_st(y, j, expf((cache[j] - st.m) * it) * inv);
    return;
  }
  gxp_row_scores(x, n, start, k0, k1, tid, nt, [&](gxp_i64 j, float v) {
    gxp_st(y, j, expf((v - st.m) * it) * inv);
  });
}

template <typename T>
GXP_HD gxp_arg gxp_arg_pass1(const T* x, gxp_i64 n, gxp_u64 start, gxp_u32 k0, gxp_u32 k1,
                             int tid, int nt) {
  gxp_arg st = gxp_arg_init();
  gxp_row_scores(x, n, start, k0, k1, tid, nt, [&](gxp_i64 j, float v) {
    gxp_arg c;
    c.v = v;
    c.i = j;
    st = gxp_arg_merge(st, c);
  });
  return st;
}

template <typename T>
GXP_HD void gxp_hard_pass2(T* y, gxp_i64 n, gxp_arg a, int tid, int nt) {
  const int nan_row = !(a.v < GXP_INF) || !(a.v > -GXP_INF);  // NaN, +inf, all -inf
  for (gxp_i64 j = tid; j < n; j += nt)
    gxp_st(y, j, nan_row ? GXP_NAN : (j == a.i ? 1.0f : 0.0f));
}

// ---- device-only: block reductions and the kernels ------------------------
#if defined(__CUDACC__)
#define GXP_FULL 0xFFFFFFFFu
#define GXP_MAX_THREADS 1024

__device__ __forceinline__ gxp_soft gxp_block_soft(gxp_soft st, float it) {
  __shared__ float sm_m[32];
  __shared__ float sm_s[32];
  __shared__ int sm_b[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    gxp_soft b;
    b.m = __shfl_xor_sync(GXP_FULL, st.m, o);
    b.s = __shfl_xor_sync(GXP_FULL, st.s, o);
    b.bad = __shfl_xor_sync(GXP_FULL, st.bad, o);
    st = gxp_soft_merge(st, b, it);
  }
  if (lane == 0) { sm_m[warp] = st.m; sm_s[warp] = st.s; sm_b[warp] = st.bad; }
  __syncthreads();
  if (warp == 0) {
    st = gxp_soft_init();
    if (lane < nw) { st.m = sm_m[lane]; st.s = sm_s[lane]; st.bad = sm_b[lane]; }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      gxp_soft b;
      b.m = __shfl_xor_sync(GXP_FULL, st.m, o);
      b.s = __shfl_xor_sync(GXP_FULL, st.s, o);
      b.bad = __shfl_xor_sync(GXP_FULL, st.bad, o);
      st = gxp_soft_merge(st, b, it);
    }
    if (lane == 0) { sm_m[0] = st.m; sm_s[0] = st.s; sm_b[0] = st.bad; }
  }
  __syncthreads();
  st.m = sm_m[0]; st.s = sm_s[0]; st.bad = sm_b[0];
  return st;
}

__device__ __forceinline__ gxp_arg gxp_block_arg(gxp_arg st) {
  __shared__ float sm_v[32];
  __shared__ gxp_i64 sm_i[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    gxp_arg b;
    b.v = __shfl_xor_sync(GXP_FULL, st.v, o);
    b.i = __shfl_xor_sync(GXP_FULL, st.i, o);
    st = gxp_arg_merge(st, b);
  }
  if (lane == 0) { sm_v[warp] = st.v; sm_i[warp] = st.i; }
  __syncthreads();
  if (warp == 0) {
    st = gxp_arg_init();
    if (lane < nw) { st.v = sm_v[lane]; st.i = sm_i[lane]; }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      gxp_arg b;
      b.v = __shfl_xor_sync(GXP_FULL, st.v, o);
      b.i = __shfl_xor_sync(GXP_FULL, st.i, o);
      st = gxp_arg_merge(st, b);
    }
    if (lane == 0) { sm_v[0] = st.v; sm_i[0] = st.i; }
  }
  __syncthreads();
  st.v = sm_v[0]; st.i = sm_i[0];
  return st;
}

extern __shared__ float gxp_cache[];

// Launch: grid (rows,), block (a multiple of 32, <= 1024); row r starts at
// stream word start + r * n. use_key: read the key from key[0..1] (drawn on
// the device), else (k0, k1). use_cache: shared_mem = n * 4 bytes.
#define GXP_ROW_SETUP                                                        \
  const gxp_i64 row = (gxp_i64)blockIdx.x;                                  \
  if (use_key) { k0 = key[0]; k1 = key[1]; }                                \
  start += (gxp_u64)row * (gxp_u64)n;                                       \
  x += row * n;

#define GXP_KERNELS(SUF, T)                                                           \
extern "C" __global__ void __launch_bounds__(GXP_MAX_THREADS)                         \
gxp_gumbel_softmax_##SUF(const T* x, T* y, gxp_i64 n, gxp_u64 start, gxp_u32 k0,      \
                         gxp_u32 k1, const gxp_u32* key, int use_key, float it,       \
                         int use_cache) {                                             \
  GXP_ROW_SETUP                                                                       \
  y += row * n;                                                                       \
  float* cache = use_cache ? gxp_cache : (float*)0;                                   \
  gxp_soft st = gxp_soft_pass1<T>(x, n, start, k0, k1, it, threadIdx.x, blockDim.x,   \
                                  cache);                                             \
  st = gxp_block_soft(st, it);                                                        \
  gxp_soft_pass2<T>(x, y, n, start, k0, k1, it, st, threadIdx.x, blockDim.x, cache);  \
}                                                                                     \
extern "C" __global__ void __launch_bounds__(GXP_MAX_THREADS)                         \
gxp_gumbel_hard_##SUF(const T* x, T* y, gxp_i64 n, gxp_u64 start, gxp_u32 k0,         \
                      gxp_u32 k1, const gxp_u32* key, int use_key) {                  \
  GXP_ROW_SETUP                                                                       \
  y += row * n;                                                                       \
  gxp_arg a = gxp_arg_pass1<T>(x, n, start, k0, k1, threadIdx.x, blockDim.x);         \
  a = gxp_block_arg(a);                                                               \
  gxp_hard_pass2<T>(y, n, a, threadIdx.x, blockDim.x);                                \
}                                                                                     \
extern "C" __global__ void __launch_bounds__(GXP_MAX_THREADS)                         \
gxp_gumbel_argmax_##SUF(const T* x, gxp_i64* out, gxp_i64 n, gxp_u64 start,           \
                        gxp_u32 k0, gxp_u32 k1, const gxp_u32* key, int use_key) {    \
  GXP_ROW_SETUP                                                                       \
  gxp_arg a = gxp_arg_pass1<T>(x, n, start, k0, k1, threadIdx.x, blockDim.x);         \
  a = gxp_block_arg(a);                                                               \
  if (threadIdx.x == 0) out[row] = a.i;                                               \
}

GXP_KERNELS(f32, float)
GXP_KERNELS(f16, gxp_half)

// Stream words, uniforms and noise at positions start .. start + n - 1, for
// tests against PortableRNG on the device (these write what the fused
// kernels keep in registers).
extern "C" __global__ void gxp_philox_words(gxp_u64 start, gxp_i64 n, gxp_u32 k0, gxp_u32 k1,
                                            gxp_u32* out) {
  for (gxp_i64 i = blockIdx.x * (gxp_i64)blockDim.x + threadIdx.x; i < n;
       i += (gxp_i64)gridDim.x * blockDim.x)
    out[i] = gxp_word(start + (gxp_u64)i, k0, k1);
}

extern "C" __global__ void gxp_portable_uniform_f32(gxp_u64 start, gxp_i64 n, gxp_u32 k0,
                                                    gxp_u32 k1, float* out) {
  for (gxp_i64 i = blockIdx.x * (gxp_i64)blockDim.x + threadIdx.x; i < n;
       i += (gxp_i64)gridDim.x * blockDim.x)
    out[i] = gxp_uniform_f32(gxp_word(start + (gxp_u64)i, k0, k1));
}

extern "C" __global__ void gxp_portable_noise_f32(gxp_u64 start, gxp_i64 n, gxp_u32 k0,
                                                  gxp_u32 k1, float* out) {
  for (gxp_i64 i = blockIdx.x * (gxp_i64)blockDim.x + threadIdx.x; i < n;
       i += (gxp_i64)gridDim.x * blockDim.x)
    out[i] = gxp_gumbel_f32(gxp_word(start + (gxp_u64)i, k0, k1));
}
#endif  // __CUDACC__
"""

#: kernel names in the module, for RawModule and for the compile test
KERNEL_NAMES: tuple[str, ...] = tuple(
    f"gxp_gumbel_{kind}_{suf}" for kind in ("softmax", "hard", "argmax") for suf in ("f32", "f16")
) + ("gxp_philox_words", "gxp_portable_uniform_f32", "gxp_portable_noise_f32")

#: NVRTC options: no fast math (logf/log1pf/expf keep their accuracy)
NVRTC_OPTIONS: tuple[str, ...] = ("--std=c++14",)

_MAX_THREADS = 1024
_DEFAULT_SMEM = 48 * 1024 - 1024  # dynamic shared memory usable without opt-in
_MASK = 0xFFFFFFFF


def threads_for(n: int) -> int:
    """Threads per block for a row of ``n`` elements: a power of two in
    32..1024 giving each thread about four Philox blocks (16 elements)."""
    nb = (n + 3) // 4  # Philox blocks of an aligned row
    t = 32
    while t < _MAX_THREADS and 4 * t < nb:
        t *= 2
    return t


def enabled() -> bool:
    """Whether the fused kernels are used where they apply
    (``GUMBELXP_CUPY_FUSED=0`` turns them off)."""
    return os.environ.get("GUMBELXP_CUPY_FUSED", "1").strip() not in ("0", "false", "no", "off")


def cupy_module() -> Any:
    """CuPy, imported where a kernel is used (importing this module needs no
    GPU); ``Any`` to type checkers, as CuPy ships no type information."""
    import cupy  # pyright: ignore[reportMissingImports]  (installed only with a GPU)

    return cupy


_modules: dict[int, Any] = {}
_optin: dict[tuple[int, str], int] = {}


def module() -> Any:
    """The compiled :class:`cupy.RawModule` (compiled once; CuPy loads it per
    device and caches the binary on disk)."""
    cupy = cupy_module()
    mod = _modules.get(0)
    if mod is None:
        mod = cupy.RawModule(code=CUDA_SOURCE, options=NVRTC_OPTIONS)
        mod = _modules.setdefault(0, mod)
    return mod


def _cache_bytes(kernel: Any, nbytes: int) -> int:
    """Dynamic shared memory for a row cache of ``nbytes`` on the current
    device, or 0 if the row does not fit (pass 2 then recomputes the noise)."""
    cupy = cupy_module()
    if nbytes <= _DEFAULT_SMEM:
        return nbytes
    dev = cupy.cuda.Device().id
    slot = (dev, str(getattr(kernel, "name", id(kernel))))  # the opt-in is per function
    limit = _optin.get(slot)
    if limit is None:
        try:
            attrs = cupy.cuda.Device(dev).attributes
            limit = int(attrs.get("MaxSharedMemoryPerBlockOptin", 0)) - 1024
            if limit > _DEFAULT_SMEM:
                kernel.max_dynamic_shared_size_bytes = limit
            else:
                limit = 0
        except Exception:  # attribute names differ: no opt-in, recompute instead
            limit = 0
        _optin[slot] = limit
    return nbytes if nbytes <= limit else 0


def applies(x: Any, axis: int, tau: Any, rng: Any) -> bool:
    """Whether the fused kernels can compute this call: float32 / float16
    logits, the last axis, a Python-number ``tau`` whose reciprocal is a
    normal float32, and ``rng`` None, an int seed or a PortableRNG."""
    from gumbelxp._philox import PhiloxStream

    if not enabled() or x.dtype.char not in "fe" or axis != x.ndim - 1:
        return False
    if tau is not None and not (isinstance(tau, float) and 1.2e-38 < 1.0 / tau < 3.4e38):
        return False
    if not (rng is None or isinstance(rng, (int, PhiloxStream))) or isinstance(rng, bool):
        return False
    rows = x.size // x.shape[-1] if x.shape[-1] else 0
    return rows < 2**31 - 1


def _key_args(rng: Any, total: int) -> tuple[int, int, int, Any]:
    """``(start, k0, k1, key_array or None)`` for ``rng``; a PortableRNG is
    advanced by ``total`` words, as its generic draw would be. ``None``
    draws a fresh 64-bit key from CuPy's default generator of the current
    device, on the device (no host round trip)."""
    from gumbelxp._philox import PhiloxStream

    cupy = cupy_module()
    if isinstance(rng, PhiloxStream):
        k0, k1 = rng.key
        # the kernel computes this generator's stream itself: it takes the words
        return rng._take(total), k0, k1, None  # pyright: ignore[reportPrivateUsage]
    if isinstance(rng, int):
        return 0, rng & _MASK, (rng >> 32) & _MASK, None
    key = cupy.random.get_random_state().randint(0, 2**32, size=2, dtype=cupy.uint32)
    return 0, 0, 0, key


def _launch_setup(x: Any, rng: Any) -> tuple[Any, int, int, int, int, int, Any, str]:
    x = cupy_module().ascontiguousarray(x)
    n = int(x.shape[-1])
    rows = x.size // n
    start, k0, k1, key = _key_args(rng, x.size)
    suffix = "f32" if x.dtype.char == "f" else "f16"
    return x, n, rows, start, k0, k1, key, suffix


def gumbel_softmax(x: Any, tau: float, hard: bool, rng: Any) -> Any:
    """Fused ``gumbel_softmax`` over the last axis of CuPy array ``x``
    (check :func:`applies` first). Same dtype, shape and device as ``x``."""
    import numpy as np

    cupy = cupy_module()
    with x.device:
        x, n, rows, start, k0, k1, key, suffix = _launch_setup(x, rng)
        y = cupy.empty_like(x)
        if rows == 0:
            return y
        use_key = key is not None
        key = key if use_key else y  # an unread placeholder pointer
        threads = threads_for(n)
        if hard:
            kern = module().get_function(f"gxp_gumbel_hard_{suffix}")
            kern((rows,), (threads,), (x, y, np.int64(n), np.uint64(start), np.uint32(k0),
                                      np.uint32(k1), key, np.int32(use_key)))
            return y
        it = 1.0 if tau == 1.0 else 1.0 / tau
        kern = module().get_function(f"gxp_gumbel_softmax_{suffix}")
        smem = _cache_bytes(kern, 4 * n)
        kern((rows,), (threads,), (x, y, np.int64(n), np.uint64(start), np.uint32(k0),
                                  np.uint32(k1), key, np.int32(use_key), np.float32(it),
                                  np.int32(smem > 0)),
             shared_mem=smem)
        return y


def gumbel_max(x: Any, keepdims: bool, rng: Any) -> Any:
    """Fused ``gumbel_max`` over the last axis: int64 indices."""
    import numpy as np

    cupy = cupy_module()
    with x.device:
        x, n, rows, start, k0, k1, key, suffix = _launch_setup(x, rng)
        out = cupy.empty(x.shape[:-1] + ((1,) if keepdims else ()), dtype=cupy.int64)
        if rows == 0:
            return out
        use_key = key is not None
        key = key if use_key else out
        kern = module().get_function(f"gxp_gumbel_argmax_{suffix}")
        kern((rows,), (threads_for(n),), (x, out, np.int64(n), np.uint64(start), np.uint32(k0),
                                         np.uint32(k1), key, np.int32(use_key)))
        return out


def _stream_kernel(name: str, dtype: Any, key: tuple[int, int], start: int, n: int,
                   device: Any = None) -> Any:
    import numpy as np

    cupy = cupy_module()
    dev = device if device is not None else cupy.cuda.Device()
    with dev:
        out = cupy.empty((n,), dtype=dtype)
        if n:
            blocks = min(max(math.ceil(n / 256), 1), 65535)
            module().get_function(name)((blocks,), (256,), (
                np.uint64(start), np.int64(n), np.uint32(key[0]), np.uint32(key[1]), out))
        return out


def philox_words(key: tuple[int, int], start: int, n: int, device: Any = None) -> Any:
    """Stream words ``start .. start + n - 1`` computed by the kernels'
    device Philox, as a uint32 CuPy array (for tests)."""
    cupy = cupy_module()
    return _stream_kernel("gxp_philox_words", cupy.uint32, key, start, n, device)


def portable_uniform(key: tuple[int, int], start: int, n: int, device: Any = None) -> Any:
    """The device code's float32 uniforms of those words (for tests)."""
    cupy = cupy_module()
    return _stream_kernel("gxp_portable_uniform_f32", cupy.float32, key, start, n, device)


def portable_noise(key: tuple[int, int], start: int, n: int, device: Any = None) -> Any:
    """The device code's float32 Gumbel noise of those words (for tests)."""
    cupy = cupy_module()
    return _stream_kernel("gxp_portable_noise_f32", cupy.float32, key, start, n, device)
