"""The engine's semantics beyond single ops: graph walks, accumulation, freeing, modes, errors, creation."""
import numpy as np
import pytest

import autocompyute as ac


def test_long_chain_has_no_recursion_limit():
    x = ac.tensor(1.5, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad == pytest.approx(1.0)
    del y  # freeing a 100,000-deep graph must not overflow the stack either


def test_gradients_accumulate_for_reused_tensors_and_across_calls():
    x = ac.tensor([1.0, 2.0], requires_grad=True)
    (x * x + x).sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 5.0])
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad, [5.0, 7.0])


def test_backward_twice_through_freed_graph_says_so():
    x = ac.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(ac.GraphError, match="retain_graph"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = ac.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.copy()
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * first)


def test_saved_values_are_freed_after_backward():
    x = ac.tensor([1.0, 2.0], requires_grad=True)
    h = x.exp()
    y = (h * x).sum()
    y.backward()
    assert h.ctx.saved is None and y.ctx.saved is None


def test_no_grad_builds_no_graph():
    x = ac.tensor([1.0, 2.0], requires_grad=True)
    with ac.no_grad():
        y = (x * 2).exp()
    assert y.ctx is None and not y.requires_grad
    with pytest.raises(ac.GraphError):
        y.sum().backward()


def test_non_scalar_backward_needs_gradient():
    x = ac.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ac.GraphError, match="explicit gradient"):
        (x * 2).backward()
    (x * 2).backward(ac.tensor([1.0, 10.0]))
    np.testing.assert_allclose(x.grad, [2.0, 20.0])


def test_retain_grad_on_intermediate():
    x = ac.tensor([1.0, 2.0], requires_grad=True)
    h = (x * 3).retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad, 2 * h.numpy())


def test_gradients_exact_in_float32_and_float64():
    for dtype in (ac.float32, ac.float64):
        x = ac.tensor([0.5, -1.0], dtype=dtype, requires_grad=True)
        (x * x * x).sum().backward()
        assert x.grad.dtype == dtype
        np.testing.assert_allclose(x.grad, 3 * x.numpy() ** 2, rtol=1e-6)


def test_broadcast_gradient_reduced_to_input_shape():
    a = ac.randn(2, 3, 4, requires_grad=True)
    b = ac.randn(3, 1, requires_grad=True)
    (a * b).sum().backward()
    assert b.grad.shape == (3, 1)
    np.testing.assert_allclose(b.grad, a.numpy().sum(axis=(0, 2))[:, None], rtol=1e-5)


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(ac.DTypeError):
        ac.tensor([1, 2], requires_grad=True)


def test_float32_is_the_default_dtype():
    assert ac.tensor([1.0, 2.0]).dtype == ac.float32
    assert ac.tensor([1, 2]).dtype == ac.int64
    assert ac.randn(2).dtype == ac.float32
    assert (ac.ones(2) * 2.5).dtype == ac.float32
    assert ac.tensor(np.zeros(2)).dtype == ac.float64


def test_creation_functions():
    assert ac.zeros(2, 3).shape == (2, 3) and ac.ones((2, 3)).numpy().sum() == 6
    assert ac.full((2,), 7).dtype == ac.int64
    np.testing.assert_array_equal(ac.arange(5).numpy(), np.arange(5))
    np.testing.assert_allclose(ac.arange(0, 1, 0.25).numpy(), [0, 0.25, 0.5, 0.75])
    np.testing.assert_array_equal(ac.eye(3).numpy(), np.eye(3))
    r = ac.randint(0, 10, (100,))
    assert r.dtype == ac.int64 and 0 <= r.numpy().min() and r.numpy().max() < 10
    x = ac.randn(3, 4)
    assert ac.zeros_like(x).shape == x.shape and ac.rand_like(x).dtype == x.dtype
    u = ac.rand(1000).numpy()
    assert 0 <= u.min() and u.max() < 1


def test_manual_seed_makes_runs_reproducible():
    ac.manual_seed(123)
    a = ac.randn(5).numpy()
    ac.manual_seed(123)
    np.testing.assert_array_equal(ac.randn(5).numpy(), a)


def test_tensor_basics():
    x = ac.tensor([[1.0, 2.0]], requires_grad=True)
    assert x.shape == (1, 2) and x.ndim == 2 and x.device == "cpu" and x.numel() == 2
    assert x.sum().item() == 3.0
    assert "requires_grad=True" in repr(x)
    assert "grad_fn=<Mul>" in repr(x * 2)
    d = (x * 2).detach()
    assert d.ctx is None and not d.requires_grad


def test_cuda_without_gpu_is_a_clear_error():
    if ac.cuda_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ac.DeviceError, match="cuda"):
        ac.ones(2).to("cuda")
    with pytest.raises(ac.DeviceError, match="unknown device"):
        ac.ones(2).to("tpu")


def test_leaf_gradients_are_writable_and_not_shared():
    a = ac.randn(3, requires_grad=True)
    b = ac.randn(3, requires_grad=True)
    (a + b).sum().backward()
    a.grad *= 2  # in-place update, as optimizers and clipping do
    np.testing.assert_allclose(b.grad, np.ones(3))
    np.testing.assert_allclose(a.grad, 2 * np.ones(3))


def test_allocator_tuning_can_be_turned_off():
    import subprocess
    import sys
    code = "import autocompyute as ac; print(ac.backends.MALLOC_TUNED)"
    off = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "AUTOCOMPYUTE_MALLOC_TUNING": "0"})
    assert off.stdout.strip() == "False"
