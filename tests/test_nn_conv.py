"""Convolution and pooling layers against the direct numpy loops of tests/cases_conv.py."""
import math

import numpy as np
import pytest

import autocompyute as ac
import autocompyute.nn as nn
import autocompyute.nn.functional as F
from autocompyute.errors import ShapeError
import op_cases  # noqa: F401  (first: it imports every cases_*.py, cases_conv among them)
from cases_conv import ref_adaptive_avg_pool, ref_avg_pool, ref_conv, ref_conv_transpose, ref_max_pool
from gradcheck import check_grads
from nn_helpers import param_arrays


@pytest.mark.parametrize("kw", [
    dict(),
    dict(stride=2, padding=1),
    dict(padding="same", dilation=2),
    dict(groups=2, bias=False),
    dict(groups=4, padding=(1, 0)),  # depthwise
])
def test_conv2d_layer_matches_loop_reference(kw):
    m = nn.Conv2d(4, 8, (3, 2), **kw)
    x = np.random.default_rng(1).standard_normal((2, 4, 9, 7)).astype(np.float32)
    y = m(ac.tensor(x))
    p = param_arrays(m)
    want = ref_conv(x.astype(np.float64), p["weight"], p.get("bias"), m.stride, m.padding, m.dilation, m.groups)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-4, atol=1e-5)


def test_conv_parameter_names_shapes_and_init_bounds():
    m = nn.Conv2d(6, 4, 3, groups=2)
    assert [(n, p.shape) for n, p in m.named_parameters()] == [("weight", (4, 3, 3, 3)), ("bias", (4,))]
    bound = 1 / math.sqrt(3 * 9)
    for p in m.parameters():
        a = np.abs(p.numpy())
        assert a.max() <= bound and a.max() > 0.5 * bound
    t = nn.ConvTranspose2d(6, 4, 3, groups=2)
    assert [(n, p.shape) for n, p in t.named_parameters()] == [("weight", (6, 2, 3, 3)), ("bias", (4,))]
    assert np.abs(t.weight.numpy()).max() <= 1 / math.sqrt(2 * 9)
    c1 = nn.Conv1d(3, 5, 4, bias=False)
    assert [(n, p.shape) for n, p in c1.named_parameters()] == [("weight", (5, 3, 4))]
    assert list(c1.state_dict()) == ["weight"]


def test_conv1d_layer_matches_loop_reference():
    m = nn.Conv1d(3, 4, 3, stride=2, padding=2, dilation=2)
    x = np.random.default_rng(2).standard_normal((2, 3, 12)).astype(np.float32)
    p = param_arrays(m)
    want = ref_conv(x.astype(np.float64), p["weight"], p["bias"], 2, 2, 2)
    np.testing.assert_allclose(m(ac.tensor(x)).numpy(), want, rtol=1e-4, atol=1e-5)


def test_conv_transpose2d_layer_and_output_size():
    m = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
    x = np.random.default_rng(3).standard_normal((2, 4, 4, 5)).astype(np.float32)
    p = param_arrays(m)
    want = ref_conv_transpose(x.astype(np.float64), p["weight"], p["bias"], 2, 1, 1, 2)
    y = m(ac.tensor(x))
    assert y.shape == (2, 6, 8, 10)
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-4, atol=1e-5)
    m.output_padding = (0, 0)
    y2 = m(ac.tensor(x), output_size=(2, 6, 8, 10))
    np.testing.assert_allclose(y2.numpy(), want, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError):
        m(ac.tensor(x), output_size=(12, 10))


def test_conv_transpose_is_the_adjoint_of_conv():
    """<conv(x, w), y> == <x, conv_transpose(y, w)> for the same stride, padding, dilation and groups."""
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((2, 4, 9, 8)), rng.standard_normal((6, 2, 3, 2))
    kw = dict(stride=(2, 3), padding=(1, 1), dilation=(1, 2), groups=2)
    y = F.conv2d(ac.tensor(x), ac.tensor(w), **kw)
    g = rng.standard_normal(y.shape)
    out_pad = tuple(s - o for s, o in zip(x.shape[2:], [(a - 1) * st - 2 * p + d * (k - 1) + 1 for a, st, p, d, k in
                                                       zip(y.shape[2:], (2, 3), (1, 1), (1, 2), (3, 2))]))
    back = F.conv_transpose2d(ac.tensor(g), ac.tensor(w), output_padding=out_pad, **kw)
    assert back.shape == x.shape
    np.testing.assert_allclose((y.numpy() * g).sum(), (x * back.numpy()).sum(), rtol=1e-10)


def test_conv_layer_gradients_float64():
    m = nn.Conv2d(2, 4, 3, stride=2, padding=1, groups=2).double()
    x = np.random.default_rng(5).standard_normal((2, 2, 6, 5))
    w, b = m.weight.numpy(), m.bias.numpy()
    check_grads(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=2), [x, w, b])


def test_conv_skips_input_gradient_for_constant_input():
    m = nn.Conv2d(1, 2, 3)
    x = ac.randn(2, 1, 6, 6)
    m(x).sum().backward()
    assert x.grad is None and m.weight.grad is not None and m.bias.grad.shape == (2,)
    np.testing.assert_allclose(np.asarray(m.bias.grad), [2 * 16] * 2)


def test_unbatched_conv_and_pool():
    m = nn.Conv2d(3, 2, 2)
    x = ac.randn(3, 5, 5, requires_grad=True)
    y = nn.MaxPool2d(2)(m(x))
    assert y.shape == (2, 2, 2)
    y.sum().backward()
    assert x.grad.shape == (3, 5, 5)


def test_conv_shape_errors_name_the_op():
    with pytest.raises(ShapeError, match="conv2d"):
        F.conv2d(ac.randn(1, 3, 5, 5), ac.randn(4, 2, 3, 3))
    with pytest.raises(ShapeError, match="conv2d"):
        F.conv2d(ac.randn(3, 5), ac.randn(4, 3, 3, 3))
    with pytest.raises(ShapeError, match="smaller than the kernel"):
        F.conv2d(ac.randn(1, 1, 2, 2), ac.randn(1, 1, 3, 3))
    with pytest.raises(ShapeError, match="bias"):
        F.conv2d(ac.randn(1, 1, 4, 4), ac.randn(2, 1, 3, 3), ac.randn(3))
    with pytest.raises(ValueError, match="same"):
        F.conv2d(ac.randn(1, 1, 5, 5), ac.randn(1, 1, 3, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match="divisible"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ShapeError, match="max_pool2d"):
        F.max_pool2d(ac.randn(1, 1, 5, 5), 2, padding=2)


def _distinct(shape, seed=0):
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.1).reshape(shape).astype(np.float32)


@pytest.mark.parametrize("kw", [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=(2, 3), stride=(1, 2), dilation=(2, 1), ceil_mode=True),
])
def test_maxpool2d_layer(kw):
    x = _distinct((2, 3, 7, 8))
    m = nn.MaxPool2d(return_indices=True, **kw)
    y, idx = m(ac.tensor(x))
    want, want_idx = ref_max_pool(x.astype(np.float64), kw["kernel_size"], kw.get("stride"), kw.get("padding", 0),
                                  kw.get("dilation", 1), kw.get("ceil_mode", False), indices=True)
    np.testing.assert_array_equal(y.numpy(), want)
    np.testing.assert_array_equal(idx.numpy(), want_idx)
    assert idx.dtype == np.int64 and not idx.requires_grad


def test_maxpool_gradient_goes_to_the_argmax_only():
    x = ac.tensor(_distinct((1, 1, 4, 4)), requires_grad=True)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    y.sum().backward()
    want = np.zeros(16)
    want[idx.numpy().ravel()] = 1
    np.testing.assert_array_equal(np.asarray(x.grad).ravel(), want)


def test_maxpool1d_layer():
    x = _distinct((2, 3, 11))
    y = nn.MaxPool1d(3, stride=2, padding=1, ceil_mode=True)(ac.tensor(x))
    np.testing.assert_array_equal(y.numpy(), ref_max_pool(x.astype(np.float64), 3, 2, 1, 1, True, nd=1))


@pytest.mark.parametrize("kw", [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=(3, 2), stride=2, padding=(1, 1), ceil_mode=True, count_include_pad=False),
    dict(kernel_size=2, stride=1, divisor_override=5),
])
def test_avgpool2d_layer(kw):
    x = np.random.default_rng(6).standard_normal((2, 3, 7, 6)).astype(np.float32)
    y = nn.AvgPool2d(**kw)(ac.tensor(x))
    want = ref_avg_pool(x.astype(np.float64), kw["kernel_size"], kw.get("stride"), kw.get("padding", 0),
                        kw.get("ceil_mode", False), kw.get("count_include_pad", True), kw.get("divisor_override"))
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("size", [1, (1, 1), (2, 3), (3, None), (7, 9)])
def test_adaptive_avgpool2d_layer(size):
    x = np.random.default_rng(7).standard_normal((2, 3, 7, 6)).astype(np.float32)
    y = nn.AdaptiveAvgPool2d(size)(ac.tensor(x))
    full = (size, size) if isinstance(size, int) else tuple(s if s is not None else 6 for s in size)
    np.testing.assert_allclose(y.numpy(), ref_adaptive_avg_pool(x.astype(np.float64), full), rtol=1e-5, atol=1e-6)


def test_small_cnn_trains():
    """Conv -> ReLU -> pool -> conv -> global pool fits two constant patterns with plain gradient steps."""
    ac.manual_seed(0)
    conv1, conv2 = nn.Conv2d(1, 4, 3, padding=1), nn.Conv2d(4, 2, 3, padding=1)
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal((4, 1, 6, 6)) + 2, rng.standard_normal((4, 1, 6, 6)) - 2])
    x = x.astype(np.float32)
    target = np.repeat(np.eye(2, dtype=np.float32), 4, axis=0)
    params = list(conv1.parameters()) + list(conv2.parameters())

    def loss():
        h = F.max_pool2d(conv1(ac.tensor(x)).relu(), 2)
        out = F.adaptive_avg_pool2d(conv2(h), 1)                  # (8, 2, 1, 1)
        d = out - ac.tensor(target.reshape(8, 2, 1, 1))
        return (d * d).mean()

    first = loss().item()
    for _ in range(60):
        for p in params:
            p.grad = None
        value = loss()
        value.backward()
        for p in params:
            p.data = p.data - 0.1 * p.grad
    assert loss().item() < 0.2 * first


def test_maxpool_ties_send_the_gradient_to_the_first_maximum_only():
    """At ties (kept apart from the op table's tie-free cases) the first offset in row-major order wins, like
    PyTorch; every window passes its gradient to exactly one input."""
    x = ac.ones(1, 1, 4, 4, requires_grad=True)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    y.sum().backward()
    want = np.zeros((4, 4))
    want[::2, ::2] = 1
    np.testing.assert_array_equal(np.asarray(x.grad)[0, 0], want)
    np.testing.assert_array_equal(idx.numpy()[0, 0], [[0, 2], [8, 10]])
    x = ac.ones(1, 1, 3, 3, requires_grad=True)
    F.max_pool2d(x, 2, stride=1).sum().backward()                       # overlapping windows
    np.testing.assert_array_equal(np.asarray(x.grad)[0, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])


@pytest.mark.parametrize("mode,np_mode", [("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap")])
def test_conv_padding_modes(mode, np_mode):
    m = nn.Conv2d(2, 3, 3, padding=(2, 1), padding_mode=mode, stride=(1, 2))
    x = np.random.default_rng(8).standard_normal((2, 2, 6, 5)).astype(np.float32)
    p = param_arrays(m)
    padded = np.pad(x.astype(np.float64), [(0, 0), (0, 0), (2, 2), (1, 1)], mode=np_mode)
    want = ref_conv(padded, p["weight"], p["bias"], (1, 2))
    np.testing.assert_allclose(m(ac.tensor(x)).numpy(), want, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(2, 3, 3, padding_mode="mirror")


def test_frozen_weight_gets_no_gradient_but_input_does():
    for m in (nn.Conv2d(2, 3, 3, padding=1), nn.Conv2d(2, 3, 1), nn.ConvTranspose2d(2, 3, 3, stride=2)):
        m.weight.requires_grad_(False)
        x = ac.randn(2, 2, 5, 5, requires_grad=True)
        m(x).sum().backward()
        assert m.weight.grad is None and x.grad is not None and m.bias.grad is not None


@pytest.mark.parametrize("cin, kw", [
    (4, dict(padding=1)),                    # stride 1: the grid layout, with its spare row and wrapped columns
    (4, dict(padding=(2, 1), dilation=(2, 1))),
    (4, dict(stride=2, padding=1)),          # strided: windows unrolled position by position
    (4, dict(padding=1, groups=2)),
    (4, dict(groups=4)),                     # depthwise: an outer product instead of a GEMM
    (1, dict(padding=1)),                    # fewer weights per output than outputs: a GEMM per sample
    (1, dict(stride=2, padding=(0, 1))),
])
def test_conv_in_several_batch_chunks_matches_reference_and_gradients(monkeypatch, cin, kw):
    """A batch larger than one chunk of unrolled windows: every chunk's GEMM lands on its own samples."""
    from autocompyute.ops import conv
    monkeypatch.setattr(conv, "CHUNK_BYTES", 1)          # one sample per chunk
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((5, cin, 7, 6)), rng.standard_normal((12, cin // kw.get("groups", 1), 3, 3)), \
        rng.standard_normal(12)
    y = F.conv2d(ac.tensor(x), ac.tensor(w), ac.tensor(b), **kw)
    ref = ref_conv(x, w, b, kw.get("stride", 1), kw.get("padding", 0), kw.get("dilation", 1), kw.get("groups", 1))
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-10, atol=1e-10)
    check_grads(lambda x, w, b: F.conv2d(x, w, b, **kw), [x, w, b])


@pytest.mark.parametrize("call, message", [
    (lambda x, w: F.conv2d(x, w, stride=0), "conv2d: stride must be at least 1"),
    (lambda x, w: F.conv2d(x, w, padding=-1), "conv2d: padding must be at least 0"),
    (lambda x, w: F.conv2d(x, w, dilation=(1, 0)), "conv2d: dilation must be at least 1"),
    (lambda x, w: F.conv2d(x, w, groups=0), "conv2d: groups must be at least 1"),
    (lambda x, w: F.max_pool2d(x, 0), "max_pool2d: kernel_size must be at least 1"),
    (lambda x, w: F.avg_pool2d(x, 2, stride=0), "avg_pool2d: stride must be at least 1"),
    (lambda x, w: ac.nn.Conv2d(1, 1, 3, stride=0), "Conv2d: stride must be at least 1"),
])
def test_engine_convolution_and_pooling_arguments_are_checked(call, message):
    """The engine's own functions and layers refuse zero or negative geometry with a ShapeError, not a
    ZeroDivisionError or a numpy broadcasting error from deep inside."""
    x, w = ac.tensor(np.ones((1, 1, 5, 5), np.float32)), ac.tensor(np.ones((1, 1, 3, 3), np.float32))
    with pytest.raises(ShapeError, match=message):
        call(x, w)
