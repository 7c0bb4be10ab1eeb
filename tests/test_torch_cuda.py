"""PyTorch on CUDA: tensors, generators and noise stay on the tensor's device.

Skipped (with the reason) where PyTorch has no CUDA device; run on a GPU
machine with ``GUMBELXP_BACKENDS=torch pytest tests/test_torch_cuda.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

import gumbelxp as gx

torch = pytest.importorskip("torch")

CUDA = torch.cuda.is_available()
WHY = "needs PyTorch with a CUDA device"


def test_resolve_device_cpu():
    from gumbelxp.backends._torch import _resolve_device

    assert _resolve_device("cpu") == torch.device("cpu")


@pytest.fixture
def dev():
    """The current CUDA device; skips the test without one."""
    if not CUDA:
        pytest.skip(WHY)
    return torch.device("cuda", torch.cuda.current_device())


def _x(dev, dtype=torch.float32):
    g = torch.Generator().manual_seed(0)
    return (torch.randn(6, 257, generator=g) * 3).to(dtype=dtype, device=dev)


@pytest.mark.gpu
@pytest.mark.parametrize("rng", ["none", "int", "gen", "portable"])
def test_outputs_on_the_device(dev, rng):
    def make():
        return {"none": None, "int": 3, "gen": torch.Generator(device=dev).manual_seed(1),
                "portable": gx.PortableRNG(3)}[rng]

    x = _x(dev)
    for y in (gx.gumbel_softmax(x, rng=make()), gx.gumbel_softmax(x, hard=True, rng=make()),
              gx.gumbel_max(x, rng=make()), gx.gumbel_topk(x, 3, rng=make()),
              gx.gumbel((4, 5), like=x, rng=make())):
        assert y.device == dev
    y = gx.gumbel_softmax(x, hard=True, rng=make())
    assert set(torch.unique(y).tolist()) <= {0.0, 1.0} and bool((y.sum(-1) == 1).all())


@pytest.mark.gpu
def test_seeds_and_default_generator(dev):
    x = _x(dev)
    torch.testing.assert_close(gx.gumbel_softmax(x, rng=7), gx.gumbel_softmax(x, rng=7))
    torch.cuda.manual_seed(0)  # rng=None: the CUDA device's default generator
    a = gx.gumbel_softmax(x)
    torch.cuda.manual_seed(0)
    torch.testing.assert_close(a, gx.gumbel_softmax(x))
    g = torch.Generator(device=dev).manual_seed(5)
    state = g.get_state()
    b = gx.gumbel_softmax(x, rng=g)
    assert not torch.equal(g.get_state(), state)  # the generator advanced
    g.set_state(state)
    torch.testing.assert_close(b, gx.gumbel_softmax(x, rng=g))


@pytest.mark.gpu
def test_cpu_generator_with_cuda_tensor_is_an_error(dev):
    with pytest.raises(ValueError, match="Generator is on cpu"):
        gx.gumbel_softmax(_x(dev), rng=torch.Generator())


@pytest.mark.gpu
def test_portable_rng_same_bits_as_cpu(dev):
    bits = gx.PortableRNG(11).random_bits((1000,), like=_x(dev))
    assert bits.device == dev
    np.testing.assert_array_equal(bits.cpu().numpy(),
                                  gx.PortableRNG(11).random_bits((1000,), xp="numpy"))
    x = _x(dev)
    torch.testing.assert_close(gx.gumbel_softmax(x, tau=0.5, rng=gx.PortableRNG(2)).cpu(),
                               gx.gumbel_softmax(x.cpu(), tau=0.5, rng=gx.PortableRNG(2)),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_gradients_on_the_device(dev, dtype):
    x = _x(dev, dtype).requires_grad_(True)
    tau = torch.tensor(0.7, device=dev, requires_grad=True)
    y = gx.gumbel_softmax(x, tau=tau, hard=True, rng=1)
    assert y.dtype == dtype and y.device == dev
    (y * torch.arange(257, device=dev, dtype=dtype)).sum().backward()
    assert x.grad.device == dev and bool(torch.isfinite(x.grad).all())
    assert tau.grad is not None and bool(torch.isfinite(tau.grad))


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason=WHY)
def test_other_cuda_device():
    if torch.cuda.device_count() < 2:
        pytest.skip("needs two CUDA devices")
    x = _x(torch.device("cuda", 1))
    for rng in (None, 3, gx.PortableRNG(3), torch.Generator(device="cuda:1")):
        assert gx.gumbel_softmax(x, rng=rng).device == torch.device("cuda", 1)
    with pytest.raises(ValueError, match="cuda:0"):
        gx.gumbel_softmax(x, rng=torch.Generator(device="cuda:0"))
