"""CuPy backend checks; skipped without CuPy and an NVIDIA GPU."""
import numpy as np
import pytest

import autocompyute as ac

pytestmark = pytest.mark.gpu


def test_to_cuda_and_back_keeps_values_and_gradient():
    x = ac.randn(3, 4, dtype=ac.float64, requires_grad=True)
    y = (x.to("cuda").exp() * 2).sum()
    assert y.device == "cuda"
    y.backward()
    assert x.grad is not None and isinstance(x.grad, np.ndarray)
    np.testing.assert_allclose(x.grad, 2 * np.exp(x.numpy()), rtol=1e-12)


def test_ops_run_on_cuda_like_on_cpu():
    x = ac.randn(5, 6)
    a = (x.gelu() if hasattr(x, "gelu") else ac.gelu(x)).sum(1)
    b = ac.gelu(x.to("cuda")).sum(1)
    np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-6)
