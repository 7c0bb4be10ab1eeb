"""PyTorch adapter: CPU and CUDA tensors, ``torch.Generator`` on the tensor's device."""

from __future__ import annotations

from typing import Any

import torch

from ._base import Backend, check_seed


def _resolve_device(device: Any) -> torch.device:
    """``device`` as a ``torch.device`` with its index: None is the default
    device (``torch.set_default_device``), ``cuda`` the current CUDA device."""
    if device is None:
        get = getattr(torch, "get_default_device", None)
        device = get() if get is not None else torch.empty(()).device
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


class TorchBackend(Backend):
    name = "torch"
    module = "torch"
    has_autograd = True
    namespace_module = "array_api_compat.torch"
    generator_name = "torch.Generator"
    # PyTorch has no uint32 add or shift: Philox runs in int64, whose
    # wrapping product still holds the exact low 64 bits of a 32x32 product.
    philox_int = "int64"

    def array_types(self):
        return (torch.Tensor,)

    def is_generator(self, obj: Any) -> bool:
        return isinstance(obj, torch.Generator)

    def default_generator(self, device=None) -> torch.Generator:
        device = torch.device(device if device is not None else "cpu")
        if device.type == "cpu":
            return torch.default_generator
        return torch.cuda.default_generators[
            device.index if device.index is not None else torch.cuda.current_device()
        ]

    def uniform(self, rng, shape, dtype, device):
        # everything on the tensor's device: an int seeds a generator there,
        # None is that device's default generator (torch.rand picks it)
        device = _resolve_device(device)
        if isinstance(rng, int):
            rng = torch.Generator(device=device).manual_seed(check_seed(rng) % 2**63)
        elif rng is not None and _resolve_device(rng.device) != device:
            raise ValueError(
                f"the torch.Generator is on {rng.device} but the tensor is on {device}"
            )
        # torch.rand draws k * 2**-24 (float32) / k * 2**-53 (float64), k >= 0:
        # move the zero cell to its midpoint so log(0) cannot happen.
        u = torch.rand(tuple(shape), generator=rng, dtype=dtype, device=device)
        return u.clamp_min_(torch.finfo(dtype).eps * 0.25)

    def stop_gradient(self, x):
        return x.detach()

    def needs_grad(self, *xs):
        return torch.is_grad_enabled() and any(getattr(x, "requires_grad", False) for x in xs)

    # fast paths: in place unless autograd records the tensors involved
    def exponential(self, rng, shape, dtype, device):
        return self.uniform(rng, shape, dtype, device).log_().neg_()

    def exp_(self, x):
        return torch.exp(x) if self.needs_grad(x) else x.exp_()

    def log_(self, x):
        return torch.log(x) if self.needs_grad(x) else x.log_()

    def neg_(self, x):
        return torch.neg(x) if self.needs_grad(x) else x.neg_()

    def sub_(self, a, b):
        return a - b if self.needs_grad(a, b) else a.sub_(b)

    def div_(self, a, b):
        return a / b if self.needs_grad(a, b) else a.div_(b)

    def one_hot(self, idx, like, axis, nan=None):
        if nan is None:
            return torch.zeros_like(like, requires_grad=False).scatter_(axis, idx, 1.0)
        return nan.expand(like.shape).clone().scatter_(axis, idx, nan + 1.0)

    def softmax(self, z, axis):
        return torch.softmax(z, axis)

    def softmax_exp_noise(self, x, e_noise, axis):
        # the fused softmax: its backward pass is cheaper, and on small arrays
        # its three dispatches beat the generic six; on long rows (64x50257)
        # the generic in-place version is faster
        if self.needs_grad(x) or x.numel() < 4096:
            return torch.softmax(x - e_noise.log_(), axis)
        return super().softmax_exp_noise(x, e_noise, axis)

    def vjp(self, f, args, cotangent):
        args = tuple(a.detach().requires_grad_(True) for a in args)
        out = f(*args)
        grads = torch.autograd.grad(out, args, cotangent, allow_unused=True)
        return out.detach(), tuple(grads)

    def device(self, x):
        return x.device  # what array_api_compat.device answers, without its type probes

    def devices(self) -> list[str]:
        devs = ["cpu"]
        if torch.cuda.is_available():
            devs += [f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(torch.cuda.device_count())]
        return devs

    def to_numpy(self, x):
        x = x.detach().cpu()
        if x.dtype == torch.bfloat16:
            x = x.float()
        return x.numpy()

    def version(self) -> str:
        return torch.__version__


BACKEND = TorchBackend()
