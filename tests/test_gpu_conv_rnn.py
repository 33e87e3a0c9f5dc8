"""Convolution, pooling, recurrent and attention layers on CuPy give the CPU's values and gradients (float64).
Skipped without CuPy and an NVIDIA GPU."""
import numpy as np
import pytest

import autocompyute as ac
import autocompyute.nn as nn
import autocompyute.nn.functional as F

pytestmark = pytest.mark.gpu


def _run(fn, arrays, device, module=None):
    """Outputs and input/parameter gradients of sum(out * w) over all floating outputs, as numpy arrays."""
    if module is not None:
        module.to(device)
        module.zero_grad()
    xs = [ac.tensor(a, device=device, requires_grad=a.dtype.kind == "f") for a in arrays]
    outs = fn(*xs)
    outs = [o for o in (outs if isinstance(outs, (tuple, list)) else [outs]) if o is not None]
    flat = []
    for o in outs:
        flat.extend(o if isinstance(o, (tuple, list)) else [o])
    rng = np.random.default_rng(0)
    total = None
    for o in flat:
        if o.dtype.kind == "f":
            term = (o * ac.tensor(rng.standard_normal(o.shape), device=device)).sum()
            total = term if total is None else total + term
    total.backward()
    grads = [ac.tensor(x.grad).numpy() if x.grad is not None else None for x in xs]
    if module is not None:
        grads += [ac.tensor(p.grad).numpy() for p in module.parameters()]
    return [o.numpy() for o in flat], grads


def _same_on_both(fn, arrays, module=None):
    cpu = _run(fn, arrays, "cpu", module)
    gpu = _run(fn, arrays, "cuda", module)
    for a, b in zip(cpu[0] + cpu[1], gpu[0] + gpu[1]):
        if a is None:
            assert b is None
        elif a.dtype.kind == "f":
            np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-11)
        else:
            np.testing.assert_array_equal(b, a)


def _r(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _distinct(*shape):
    n = int(np.prod(shape))
    return (np.random.default_rng(1).permutation(n) * 0.1).reshape(shape)


@pytest.mark.parametrize("fn,arrays", [
    (lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=2), [_r(2, 4, 7, 6), _r(6, 2, 3, 3), _r(6)]),
    (lambda x, w: F.conv2d(x, w, padding="same", dilation=2, groups=4), [_r(2, 4, 6, 6), _r(8, 1, 3, 3)]),
    (lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=2), [_r(2, 3, 9), _r(4, 3, 3), _r(4)]),
    (lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1, groups=2),
     [_r(2, 4, 3, 4), _r(4, 3, 3, 3), _r(6)]),
    (lambda x: F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, return_indices=True), [_distinct(2, 3, 7, 6)]),
    (lambda x: F.max_pool1d(x, 2, dilation=2), [_distinct(2, 3, 9)]),
    (lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), [_r(2, 3, 7, 6)]),
    (lambda x: (F.adaptive_avg_pool2d(x, (3, 2)), F.adaptive_avg_pool2d(x, 1)), [_r(2, 3, 7, 5)]),
    (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True, need_weights=True),
     [_r(2, 2, 5, 4), _r(2, 2, 5, 4), _r(2, 2, 5, 3)]),
])
def test_functions_match_cpu(fn, arrays):
    _same_on_both(fn, arrays)


@pytest.mark.parametrize("make", [
    lambda: nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True),
    lambda: nn.GRU(3, 4, num_layers=2, bidirectional=True),
    lambda: nn.RNN(3, 4, nonlinearity="relu"),
])
def test_recurrent_layers_match_cpu(make):
    m = make().double()
    _same_on_both(lambda x: m(x), [_r(2, 5, 3)], module=m)


def test_multihead_attention_matches_cpu():
    m = nn.MultiheadAttention(8, 2, batch_first=True).double()
    mask = np.zeros((2, 5), bool)
    mask[0, 3:] = True

    def fn(q, kv):
        return m(q, kv, kv, key_padding_mask=ac.tensor(mask, device=q.device))
    _same_on_both(fn, [_r(2, 4, 8), _r(2, 5, 8, seed=1)], module=m)


def test_sdpa_dropout_runs_on_cuda():
    q = ac.randn(2, 4, 6, 8, device="cuda")
    out, w = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5, need_weights=True)
    kept = (w.numpy() != 0).mean()
    assert out.device == "cuda" and 0.3 < kept < 0.7
