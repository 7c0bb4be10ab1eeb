"""PyTorch adapter: CPU and CUDA tensors.

Random numbers are drawn on the tensor's device: ``rng=None`` from that
device's default generator (so ``torch.manual_seed`` makes runs repeat, and
DataLoader workers, which PyTorch seeds apart, differ), an int seeds a fresh
``torch.Generator`` there, a ``torch.Generator`` must be on that device.

Fast paths: ``gumbel_softmax`` and ``gumbel_max`` for a native generator and
a number ``tau``. Without autograd they work in place on one buffer, as the
NumPy adapter does; under autograd they use the fused ``torch.softmax``,
whose backward pass is cheaper than the generic expressions'. The generic
functions of :mod:`gumbelxp` are their reference.
"""

from __future__ import annotations

from typing import Any

import torch

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


def _gumbel_max(x: torch.Tensor, axis: int, keepdims: bool, rng: Any) -> Any:
    if not _native(rng):
        return None
    return torch.argmin(_log_exponential(x, rng).sub_(x), dim=axis, keepdim=keepdims)


def _gumbel_softmax(x: torch.Tensor, tau: Any, hard: bool, axis: int, rng: Any) -> Any:
    fi = torch.finfo(x.dtype)
    if not (_native(rng) and isinstance(tau, float) and fi.smallest_normal <= tau <= fi.max):
        return None
    if _needs_grad(x):
        s = x - _log_exponential(x, rng)  # x + g
        y = torch.softmax((s - s.detach().amax(axis, keepdim=True)) / tau, axis)
        if not hard:
            return y
        y_hard = torch.zeros_like(y).scatter_(axis, s.detach().argmax(axis, keepdim=True), 1.0)
        return y_hard + (y - y.detach())
    r = _log_exponential(x, rng)
    if hard:  # the Gumbel-max one-hot: argmin(log E - x) is argmax(x + g)
        r.sub_(x)
        low, idx = torch.min(r, dim=axis, keepdim=True)
        nan = low - low  # 0, or NaN on a slice with a NaN, +inf or only -inf logits
        return nan.expand(x.shape).clone().scatter_(axis, idx, nan + 1.0)
    s = r.neg_().add_(x)  # x + g
    s.sub_(s.amax(axis, keepdim=True))
    if tau != 1.0:
        s.div_(tau)
    return torch.softmax(s, axis) if x.numel() < 4096 else _softmax_(s, axis)


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
