"""PyTorch adapter: CPU and CUDA tensors.

Random numbers are drawn on the tensor's device: ``rng=None`` from that
device's default generator (so ``torch.manual_seed`` makes runs repeat, and
DataLoader workers, which PyTorch seeds apart, differ), an int seeds a fresh
``torch.Generator`` there, a ``torch.Generator`` must be on that device.

PortableRNG on CPU tensors takes NumPy's batched Philox (the tensor shares
the memory) and PyTorch's own logarithms; on CUDA, and while
``torch.compile`` or ``torch.jit`` traces, the generic path.

Fast paths: ``gumbel_softmax`` and ``gumbel_max`` for a native generator or a
PortableRNG and a number ``tau``. Without autograd they work in place on one buffer, as the
NumPy adapter does; under autograd they use the fused ``torch.softmax``,
whose backward pass is cheaper than the generic expressions'. The generic
functions of :mod:`gumbelxp` are their reference.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import torch

from . import _philox_numpy
from ._base import Backend


def _resolve_device(device: Any) -> torch.device:
    """``device`` as a ``torch.device`` with its index: None is the default
    device (``torch.set_default_device``), ``cuda`` the current CUDA device."""
    if device is None:
        get = getattr(torch, "get_default_device", None)
        device = get() if get is not None else torch.empty(()).device
    dev = torch.device(device)
    # (torch's annotation says int, but "cuda" alone has no index)
    if dev.type == "cuda" and dev.index is None:  # pyright: ignore[reportUnnecessaryComparison]
        dev = torch.device("cuda", torch.cuda.current_device())
    return dev


# ---------------------------------------------------------------------------
# PortableRNG on CPU tensors: NumPy's batched Philox, PyTorch's transform
# ---------------------------------------------------------------------------
def _cpu_fast_path(device: Any) -> bool:
    """Whether PortableRNG may take the batched CPU path: a CPU tensor, eager
    (``torch.compile`` and ``torch.jit`` trace the generic path instead)."""
    if _resolve_device(device).type != "cpu":
        return False
    compiling = getattr(getattr(torch, "compiler", None), "is_compiling", None)
    if compiling is not None and compiling():
        return False
    return not torch.jit.is_tracing()  # type: ignore[attr-defined, no-untyped-call]


def philox_words_cpu(key: tuple[int, int], start: int, n: int) -> torch.Tensor:
    """PortableRNG's words ``start .. start + n - 1`` as an int64 CPU tensor
    (``PortableRNG.words``' values): NumPy's batched Philox, whose arithmetic
    PyTorch's int64 ops (no unsigned 32-bit multiply-high, dispatch per op)
    do 3x slower. CPU tensors share memory with NumPy: nothing is copied."""
    w = torch.from_numpy(_philox_numpy.philox_words(key, start, n))  # pyright: ignore[reportUnknownMemberType]  (numpy's and torch's stubs)
    return w.to(torch.int64)


def gumbel32_from_words_cpu(w: np.ndarray, out: np.ndarray) -> None:
    """float32 Gumbel noise of the uint32 words ``w`` into ``out`` (float32,
    same size; it may be ``w``'s own memory), equal bit for bit to
    :func:`gumbelxp._philox.gumbel_from_words` on PyTorch: its three
    logarithms are PyTorch's ``log``, ``log1p``, ``log`` (MKL's on CPU),
    each one call on the whole draw; the rest is exact (integer ops,
    ``+ 0.5``, a power-of-two scale, negations, a bitwise select by the top
    bit), done by NumPy in cache-sized pieces on the same memory.

    One call per logarithm matters: PyTorch splits each of these ops over
    its intra-op threads from 2048 elements on, and every split is a
    parallel region that waits for all its threads; on a machine whose
    cores are busy a region can wait a whole scheduler time slice, so the
    thousands of regions of a piece-by-piece transform made a draw 50x
    slower (measured), where three regions cost what the framework's own
    sampler pays."""
    n = w.size
    wi = w.view(np.int32)  # pyright: ignore[reportUnknownMemberType]  (numpy's and torch's stubs)
    x = np.empty(n, np.float32)
    nx = np.empty(n, np.float32)

    def prepare(i: int, j: int) -> None:  # x = ((w & 0x7fffffff) + 0.5) * 2**-32 and -x
        b = x[i:j]
        np.copyto(b, np.bitwise_and(wi[i:j], 0x7FFFFFFF), casting="unsafe")  # exact rounding
        np.add(b, 0.5, out=b)
        np.multiply(b, 2.0**-32, out=b)
        np.negative(b, out=nx[i:j])

    def select(i: int, j: int) -> None:  # x = E = -(top bit ? log1p(-x) : log(x))
        mask = np.right_shift(wi[i:j], 31)  # -1 where the top bit is set, else 0
        a, b = x[i:j].view(np.int32), nx[i:j].view(np.int32)  # pyright: ignore[reportUnknownMemberType]  (numpy's and torch's stubs)
        np.bitwise_xor(a, b, out=b)
        np.bitwise_and(b, mask, out=b)
        np.bitwise_xor(a, b, out=a)
        np.negative(x[i:j], out=x[i:j])

    xt, nxt = torch.from_numpy(x), torch.from_numpy(nx)  # pyright: ignore[reportUnknownMemberType]  (numpy's and torch's stubs)
    _philox_numpy.for_each_range(n, prepare)
    torch.log(xt, out=xt)
    nxt.log1p_()
    _philox_numpy.for_each_range(n, select)
    xt.log_()
    def negate(i: int, j: int) -> None:
        np.negative(x[i:j], out=out[i:j])

    _philox_numpy.for_each_range(n, negate)


def portable_noise_cpu(key: tuple[int, int], start: int, n: int,
                       dtype: torch.dtype) -> torch.Tensor:
    """``n`` Gumbel values (float32: one word each, float64: two) from the
    words at ``start`` on, equal bit for bit to ``gumbel_from_words`` on
    PyTorch. float32: NumPy writes the words into the output's own memory,
    :func:`gumbel32_from_words_cpu` turns them into noise there."""
    from .._philox import gumbel_from_words

    if dtype == torch.float64:
        w = philox_words_cpu(key, start, 2 * n).reshape(n, 2)
        return cast(torch.Tensor, gumbel_from_words(BACKEND.namespace, w, torch.float64))
    out = torch.empty(n, dtype=torch.float32)
    o = out.numpy()
    words = o.view(np.uint32)  # pyright: ignore[reportUnknownMemberType]  (numpy's and torch's stubs)
    _philox_numpy.philox_words(key, start, n, out=words)
    gumbel32_from_words_cpu(words, o)
    return out


def _needs_grad(*xs: Any) -> bool:
    return torch.is_grad_enabled() and any(getattr(x, "requires_grad", False) for x in xs)


def _native(rng: Any) -> bool:
    return rng is None or isinstance(rng, (int, torch.Generator))


def _uniform(rng: Any, shape: Any, dtype: Any, device: Any) -> torch.Tensor:
    device = _resolve_device(device)
    if isinstance(rng, int):
        rng = torch.Generator(device=device).manual_seed(rng)
    elif rng is not None and _resolve_device(rng.device) != device:
        raise ValueError(f"the torch.Generator is on {rng.device} but the tensor is on {device}")
    # torch.rand draws k * 2**-24 (float32) / k * 2**-53 (float64), k >= 0:
    # the zero cell moves to its midpoint, so log(0) cannot happen
    u = torch.rand(tuple(shape), generator=rng, dtype=dtype, device=device)
    return u.clamp_min_(torch.finfo(dtype).eps * 0.25)


def _log_exponential(x: torch.Tensor, rng: Any) -> torch.Tensor:
    """``log E``, ``E = -log(u)``, so that ``x - log E = x + g``; in place."""
    return _uniform(rng, x.shape, x.dtype, x.device).log_().neg_().log_()


def _scores(x: torch.Tensor, rng: Any) -> torch.Tensor | None:
    """``x + g`` in a fresh tensor: ``x - log E`` from a native generator, or
    ``x`` plus a PortableRNG's noise; None for any other ``rng``."""
    from gumbelxp._philox import PhiloxStream

    if isinstance(rng, PhiloxStream):
        g = cast(torch.Tensor, rng.draw_on(BACKEND, "gumbel", tuple(x.shape), x.dtype,
                                           x.device))
        return g.add_(x) if not _needs_grad(x) else x + g
    if not _native(rng):
        return None
    r = _log_exponential(x, rng)
    return torch.sub(x, r, out=r) if not _needs_grad(x) else x - r


def _gumbel_max(x: torch.Tensor, axis: int, keepdims: bool, rng: Any) -> Any:
    s = _scores(x, rng)
    return None if s is None else torch.argmax(s, dim=axis, keepdim=keepdims)


def _gumbel_softmax(x: torch.Tensor, tau: Any, hard: bool, axis: int, rng: Any) -> Any:
    fi = torch.finfo(x.dtype)
    if not (isinstance(tau, float) and fi.smallest_normal <= tau <= fi.max):
        return None
    s = _scores(x, rng)
    if s is None:
        return None
    if _needs_grad(x):  # the fused softmax: its backward pass is cheaper
        # torch.softmax shifts by the maximum itself; before dividing by tau
        # the shift is ours, so that no finite input overflows
        # (the argmax while s is still in cache, before softmax reads it again)
        idx = s.detach().argmax(axis, keepdim=True) if hard else None
        z = s if tau == 1.0 else (s - s.detach().amax(axis, keepdim=True)) / tau
        y = torch.softmax(z, axis)
        if idx is None:
            return y
        return torch.zeros_like(y).scatter_(axis, idx, 1.0) + (y - y.detach())
    if hard:  # the Gumbel-max one-hot: no softmax needed
        high, idx = torch.max(s, dim=axis, keepdim=True)
        nan = high - high  # 0, or NaN on a slice with a NaN, +inf or only -inf logits
        return nan.expand(x.shape).clone().scatter_(axis, idx, nan + 1.0)
    if x.numel() < 4096:  # few dispatches: torch.softmax shifts by the maximum itself
        return torch.softmax(s if tau == 1.0 else s.sub_(s.amax(axis, keepdim=True)).div_(tau),
                             axis)
    s.sub_(s.amax(axis, keepdim=True))
    if tau != 1.0:
        s.div_(tau)
    return _softmax_(s, axis)


def _softmax_(s: torch.Tensor, axis: int) -> torch.Tensor:
    """softmax of shifted scores in place: on long rows (64x50257) faster
    than ``torch.softmax``, which allocates its output."""
    s.exp_()
    return s.div_(s.sum(axis, keepdim=True))


class TorchBackend(Backend):
    name = "torch"
    namespace_module = "array_api_compat.torch"
    generator_name = "torch.Generator"
    # PyTorch has no uint32 add or shift: Philox runs in int64, whose
    # wrapping product still holds the exact low 64 bits of a 32x32 product.
    philox_int = "int64"
    fast_paths = {"gumbel_softmax": _gumbel_softmax, "gumbel_max": _gumbel_max}

    def handles(self, x: Any) -> bool:
        return isinstance(x, torch.Tensor)

    def is_generator(self, obj: Any) -> bool:
        return isinstance(obj, torch.Generator)

    def uniform(self, rng: Any, shape: tuple[int, ...], dtype: Any, device: Any,
                like: Any = None) -> Any:
        return _uniform(rng, shape, dtype, device)

    def portable_draw(self, key: tuple[int, int], start: int, kind: str,
                      shape: tuple[int, ...], dtype: Any, device: Any, like: Any) -> Any:
        """On the CPU, eagerly: NumPy's batched Philox into the tensor's memory
        (:mod:`._philox_numpy`), PyTorch's logs; else the generic path."""
        if not _cpu_fast_path(device) or (kind != "bits" and dtype not in (
                torch.float32, torch.float64)):
            return super().portable_draw(key, start, kind, shape, dtype, device, like)
        from gumbelxp._philox import draw_from

        return draw_from(self.namespace, kind, shape, dtype,
                         lambda n: philox_words_cpu(key, start, n),
                         lambda n: portable_noise_cpu(key, start, n, dtype))

    def stop_gradient(self, x: Any) -> Any:
        return x.detach()

    def needs_grad(self, *xs: Any) -> bool:
        return _needs_grad(*xs)

    def device(self, x: Any) -> Any:
        return x.device  # what array_api_compat.device answers, without its type probes

    def info(self) -> dict[str, Any]:
        devs = ["cpu"]
        if torch.cuda.is_available():
            devs += [f"cuda:{i} ({torch.cuda.get_device_name(i)})"
                     for i in range(torch.cuda.device_count())]
        return {"version": torch.__version__, "devices": devs}


BACKEND = TorchBackend()
