"""Engine behaviour that the op table cannot express: ties, zeros in prod, repeated indices, namedtuple
results, multi-output ops, error messages."""
import numpy as np
import pytest

import autocompyute as ac
import autocompyute.nn.functional as F
from autocompyute import nn


def _grad(fn, value, dtype=np.float64):
    x = ac.tensor(np.asarray(value, dtype), requires_grad=True)
    fn(x).backward()
    return x.grad


# ---- reductions ----
def test_max_min_split_the_gradient_evenly_across_ties():
    np.testing.assert_allclose(_grad(lambda x: x.max(), [1.0, 3.0, 3.0, 2.0]), [0, 0.5, 0.5, 0])
    np.testing.assert_allclose(_grad(lambda x: x.min(), [[1.0, 1.0], [1.0, 2.0]]), [[1 / 3, 1 / 3], [1 / 3, 0]])


def test_max_with_dim_sends_the_gradient_to_the_returned_index_only():
    x = ac.tensor([[3.0, 1.0, 3.0], [0.0, 2.0, 2.0]], requires_grad=True)
    values, indices = x.max(dim=1)
    (values * ac.tensor([10.0, 20.0])).sum().backward()
    np.testing.assert_array_equal(indices.numpy(), [0, 1])  # first of the tied maxima, like numpy and PyTorch
    np.testing.assert_allclose(x.grad, [[10, 0, 0], [0, 20, 0]])


def test_max_min_with_dim_return_a_namedtuple():
    x = ac.tensor([[1.0, 5.0], [7.0, 2.0]])
    r = ac.max(x, 1, keepdim=True)
    assert type(r).__name__ == "max" and r._fields == ("values", "indices")
    assert r.values.shape == (2, 1) and r.indices.dtype == np.int64
    np.testing.assert_array_equal(r.indices.numpy(), [[1], [0]])
    r = x.min(dim=-2)
    assert type(r).__name__ == "min"
    np.testing.assert_array_equal(r.values.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(r.indices.numpy(), [0, 1])
    assert not r.indices.requires_grad


def test_max_without_dim_is_a_scalar_and_argmax_is_flat():
    x = ac.tensor([[1.0, 5.0], [7.0, 2.0]])
    assert x.max().shape == () and x.max().item() == 7.0
    assert x.argmax().item() == 2 and x.argmin().item() == 0
    assert x.argmax(keepdim=True).shape == (1, 1)


@pytest.mark.parametrize("value, want", [
    ([2.0, 3.0, 4.0], [12.0, 8.0, 6.0]),   # no zero: y / x
    ([2.0, 0.0, 4.0], [0.0, 8.0, 0.0]),    # one zero: the others' product at the zero
    ([0.0, 3.0, 0.0], [0.0, 0.0, 0.0]),    # two zeros: nothing anywhere
])
def test_prod_gradient_with_zeros(value, want):
    np.testing.assert_allclose(_grad(lambda x: x.prod(), value), want)


def test_prod_gradient_with_zeros_per_row():
    g = _grad(lambda x: x.prod(dim=1).sum(), [[2.0, 0.0, 4.0], [1.0, 2.0, 3.0], [0.0, 0.0, 5.0]])
    np.testing.assert_allclose(g, [[0, 8, 0], [6, 3, 2], [0, 0, 0]])


def test_var_std_correction_and_unbiased_alias():
    x = ac.tensor([1.0, 2.0, 4.0, 7.0])
    assert x.var().item() == pytest.approx(np.var([1, 2, 4, 7], ddof=1))
    assert x.var(unbiased=False).item() == pytest.approx(np.var([1, 2, 4, 7]))
    assert x.std(correction=0).item() == pytest.approx(np.std([1, 2, 4, 7]))
    assert x.std(unbiased=True).item() == pytest.approx(np.std([1, 2, 4, 7], ddof=1))


def test_softmax_family_stays_finite_for_extreme_inputs():
    x = ac.tensor([[1000.0, -1000.0, 0.0], [-1e4, -1e4, -1e4]], requires_grad=True)
    for y in (x.softmax(-1), x.log_softmax(-1), x.logsumexp(-1)):
        assert np.isfinite(y.numpy()).all()
    np.testing.assert_allclose(x.softmax(-1).numpy()[1], [1 / 3] * 3, rtol=1e-6)
    x.log_softmax(-1)[:, 0].sum().backward()
    assert np.isfinite(x.grad).all()
    with np.errstate(divide="ignore"):
        assert ac.tensor([-np.inf, -np.inf]).logsumexp(0).item() == -np.inf


def test_integer_and_boolean_reductions():
    assert ac.tensor([[1, 2], [3, 4]]).prod().item() == 24
    np.testing.assert_array_equal(ac.tensor([True, False, True]).cumsum(0).numpy(), [1, 1, 2])
    assert ac.tensor([3, 9, 2]).max().item() == 9


# ---- indexing ----
def test_repeated_advanced_indices_accumulate():
    g = _grad(lambda x: x[[0, 2, 0, 0]].sum(), [1.0, 2.0, 3.0])
    np.testing.assert_allclose(g, [3, 0, 1])
    g = _grad(lambda x: x[ac.tensor([[1, 1], [1, 0]]), 1:].sum(), np.ones((2, 3)))
    np.testing.assert_allclose(g, [[0, 1, 1], [0, 3, 3]])


def test_basic_index_backward_writes_one_buffer():
    g = _grad(lambda x: (x[1:, ::-1] * ac.tensor([1.0, 2.0, 3.0])).sum(), np.zeros((2, 3)))
    np.testing.assert_allclose(g, [[0, 0, 0], [3, 2, 1]])


def test_index_by_tensor_and_mask_matches_numpy():
    a = np.arange(24.0).reshape(2, 3, 4)
    x = ac.tensor(a)
    np.testing.assert_array_equal(x[ac.tensor([1, 0])].numpy(), a[[1, 0]])
    np.testing.assert_array_equal(x[x > 10].numpy(), a[a > 10])
    np.testing.assert_array_equal(x[..., None, 0].numpy(), a[..., None, 0])
    np.testing.assert_array_equal(x[1, [0, 2], ::-2].numpy(), a[1, [0, 2], ::-2])


# ---- splitting: one Op, gradients concatenated once ----
def test_split_is_one_op_with_several_outputs():
    x = ac.tensor(np.arange(10.0), requires_grad=True)
    parts = x.split([3, 3, 4])
    assert len({id(p.ctx) for p in parts}) == 1
    assert [p.shape for p in x.chunk(4)] == [(3,), (3,), (3,), (1,)]
    (parts[2] * 2).sum().backward()  # unused outputs get zeros
    np.testing.assert_allclose(x.grad, [0] * 6 + [2] * 4)


# ---- shape errors name the op and both shapes ----
@pytest.mark.parametrize("fn, words", [
    (lambda: ac.zeros(2, 3) @ ac.zeros(4, 5), ["matmul", "(2, 3)", "(4, 5)"]),
    (lambda: ac.zeros(2, 2, 3) @ ac.zeros(3, 3, 1), ["matmul", "(2, 2, 3)", "(3, 3, 1)"]),
    (lambda: ac.zeros(2, 3).reshape(4, 2), ["reshape", "(2, 3)", "(4, 2)"]),
    (lambda: ac.zeros(2, 3).reshape(-1, 4), ["reshape", "(2, 3)", "(-1, 4)"]),
    (lambda: ac.cat([ac.zeros(2, 3), ac.zeros(3, 2)], dim=0), ["cat", "(2, 3)", "(3, 2)"]),
    (lambda: ac.stack([ac.zeros(2), ac.zeros(3)]), ["stack", "(2,)", "(3,)"]),
    (lambda: ac.zeros(2, 3).expand(4, 3, 2), ["expand", "(2, 3)", "(4, 3, 2)"]),
    (lambda: ac.zeros(2, 3).split([1, 2], 0), ["split", "(2, 3)"]),
])
def test_shape_errors_name_the_op_and_shapes(fn, words):
    with pytest.raises(ac.ShapeError) as info:
        fn()
    for w in words:
        assert w in str(info.value)


def test_bad_dims_raise_shape_errors():
    with pytest.raises(ac.ShapeError, match="permute"):
        ac.zeros(2, 3).permute(0, 0)
    with pytest.raises(ac.ShapeError, match="out of range"):
        ac.zeros(2, 3).transpose(0, 2)
    with pytest.raises(ac.ShapeError, match="out of range"):
        ac.zeros(2, 3).sum(dim=2)


# ---- gather / scatter_add / masked_fill / pad / repeat ----
def test_gather_and_scatter_add_accumulate_repeated_indices():
    g = _grad(lambda x: x.gather(1, ac.tensor([[0, 0, 0], [2, 1, 2]])).sum(), np.ones((2, 3)))
    np.testing.assert_allclose(g, [[3, 0, 0], [0, 1, 2]])
    out = ac.zeros(3).scatter_add(0, ac.tensor([1, 1, 2, 1]), ac.tensor([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_allclose(out.numpy(), [0, 7, 3])


def test_masked_fill_with_a_tensor_value_differentiates_the_value():
    x = ac.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = ac.tensor(0.5, requires_grad=True)
    y = x.masked_fill(ac.tensor([True, False, True]), v)
    (y * ac.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_allclose(x.grad, [0, 2, 0])
    assert v.grad == pytest.approx(4.0)


def test_masked_fill_keeps_dtype_and_fills_minus_inf():
    x = ac.zeros(2, 2)
    y = x.masked_fill(ac.tensor([[False, True], [False, False]]), float("-inf"))
    assert y.dtype == np.float32 and y.numpy()[0, 1] == -np.inf


def test_reflect_pad_gradient_adds_border_contributions():
    g = _grad(lambda x: ac.pad(x, (2, 2), mode="reflect").sum(), [[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(g, [[2, 3, 2]])  # out = x2 x1 | x0 x1 x2 | x1 x0


def test_repeat_and_tile_follow_pytorch():
    x = ac.tensor([[1, 2], [3, 4]])
    assert x.repeat(1, 2).shape == (2, 4) and x.repeat(3, 1, 1).shape == (3, 2, 2)
    assert x.tile(2).shape == (2, 4)
    np.testing.assert_array_equal(x.repeat(2, 1).numpy(), [[1, 2], [3, 4], [1, 2], [3, 4]])


@pytest.mark.parametrize("fn, words", [
    (lambda: ac.zeros(2, 3).gather(1, ac.tensor([[0], [1], [2]])), ["gather", "(2, 3)", "(3, 1)"]),
    (lambda: ac.zeros(2, 3).gather(1, ac.tensor([0, 1])), ["gather", "(2, 3)", "(2,)"]),
    (lambda: ac.zeros(3).scatter_add(0, ac.tensor([0, 1]), ac.zeros(1)), ["scatter_add", "(3,)", "(2,)", "(1,)"]),
    (lambda: ac.zeros(2, 3).masked_fill(ac.ones(4, 3).bool(), 0.0), ["masked_fill", "(2, 3)", "(4, 3)"]),
    (lambda: ac.zeros(2, 3).repeat(2), ["repeat", "(2, 3)", "(2,)"]),
    (lambda: ac.pad(ac.zeros(2, 3), (3, 0), mode="reflect"), ["pad", "(2, 3)", "reflect"]),
    (lambda: ac.pad(ac.zeros(2, 3), (1, 1, 1)), ["pad", "(2, 3)"]),
    (lambda: ac.zeros(3).tril(), ["tril", "(3,)"]),
])
def test_more_shape_errors(fn, words):
    with pytest.raises(ac.ShapeError) as info:
        fn()
    for w in words:
        assert w in str(info.value)


@pytest.mark.parametrize("make, error, words", [
    (lambda: F.cross_entropy(ac.randn(4, 5), ac.tensor([0, 1, 7, 2])), ac.errors.IndexOutOfRangeError,
     "target class 7"),
    (lambda: F.nll_loss(ac.randn(4, 5), ac.tensor([0, -2, 1, 2])), ac.errors.IndexOutOfRangeError, "target class -2"),
    (lambda: F.embedding(ac.tensor([1, 9]), ac.randn(5, 2)), ac.errors.IndexOutOfRangeError, "embedding"),
    (lambda: ac.randn(2, 3).gather(1, ac.tensor([[0, 5, 1], [0, 0, 0]])), ac.errors.IndexOutOfRangeError, "gather"),
    (lambda: F.max_pool2d(ac.randn(1, 1, 2, 2), 3), ac.ShapeError, "smaller than the window"),
    (lambda: ac.tensor(["a", "b"]), ac.DTypeError, "not <U1"),
    (lambda: nn.MultiheadAttention(8, 3), ac.ShapeError, "not divisible"),
])
def test_bad_input_gets_a_typed_error_naming_the_fault(make, error, words):
    with pytest.raises(error, match=words):
        make()


def test_ignore_index_may_lie_outside_the_classes():
    loss = F.cross_entropy(ac.randn(3, 4), ac.tensor([0, -100, 3]))
    assert np.isfinite(loss.item())


@pytest.mark.parametrize("size", [5, (1 << 14) - 1, 1 << 14, 3 * (1 << 14) + 7])
def test_maximum_scalar_matches_numpy_maximum_with_nan_and_infinities(size):
    """The row-by-row maximum (numpy's scalar maximum is slow) keeps NaN, -0.0 -> 0 and any size's tail."""
    from autocompyute import backends
    x = np.random.default_rng(0).standard_normal(size).astype(np.float32)
    x[:4] = [np.nan, -np.inf, np.inf, -0.0]
    x[-1] = np.nan
    for a in (x, x.reshape(-1, 1), x[::2]):
        got = backends.maximum_scalar(np, a, 0)
        assert got.dtype == np.float32 and got.shape == a.shape
        np.testing.assert_array_equal(got, np.maximum(a, 0))
    relu = ac.tensor(x).relu().numpy()
    np.testing.assert_array_equal(relu, np.maximum(x, 0))


@pytest.mark.parametrize("n", [1, 15, 16, 17, 33, 64, 100, 4096, 4097])
def test_last_axis_max_and_sum_match_numpys_reductions(n):
    """The halving maximum (any length, odd ones overlap) keeps NaN and -inf rows; the sum is a matrix-vector
    product; strided and 1-D inputs too."""
    from autocompyute import backends
    x = np.random.default_rng(n).standard_normal((3, 4, n)).astype(np.float32)
    x[0, 0, n // 2] = np.nan
    x[1, 1] = -np.inf
    for a in (x, x[:, ::2], x[0, 2], x.astype(np.float64)):
        np.testing.assert_array_equal(backends.last_axis_max(np, a), a.max(axis=-1, keepdims=True))
        finite = a[-1]
        np.testing.assert_allclose(backends.last_axis_sum(np, finite), finite.sum(axis=-1, keepdims=True),
                                   rtol=1e-5, atol=1e-4)
    ints = np.arange(2 * n).reshape(2, n)
    assert backends.last_axis_sum(np, ints).dtype == ints.sum(axis=-1).dtype
