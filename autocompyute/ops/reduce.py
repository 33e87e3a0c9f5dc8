"""Reductions over dimensions, and the softmax family."""
import collections
import math
import types

from .. import backends
from ..dtypes import as_dtype
from ..errors import ShapeError
from .base import Op


def normalize_dims(dim, ndim):
    """`dim` (None, int or sequence, negatives allowed) as a sorted tuple of non-negative axes."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    n = ndim or 1  # (this module defines its own max and min)
    out = []
    for d in dims:
        if not -n <= d < n:
            raise ShapeError(f"dim {d} is out of range for a tensor with {ndim} dimensions")
        out.append(d % n)
    return tuple(sorted(set(out))) if ndim else ()


def expand_reduced(xp, dy, shape, axes, keepdim):
    """Broadcast a reduced gradient back to the input's `shape`."""
    if not keepdim:
        dy = xp.expand_dims(dy, axes)
    return xp.broadcast_to(dy, shape)


class Sum(Op):
    def forward(self, x):
        self.save(shape=x.shape)
        return x.sum(axis=self.axes, keepdims=self.keepdim)

    def backward(self, dy):
        return (expand_reduced(self.xp, dy, self.saved.shape, self.axes, self.keepdim),)


class Mean(Op):
    def forward(self, x):
        self.save(shape=x.shape)
        return x.mean(axis=self.axes, keepdims=self.keepdim)

    def backward(self, dy):
        shape = self.saved.shape
        return (expand_reduced(self.xp, dy / _count(shape, self.axes), shape, self.axes, self.keepdim),)


def sum(x, dim=None, keepdim=False, dtype=None):  # noqa: A001
    if dtype is not None:
        x = x.to(as_dtype(dtype))
    elif x.dtype.kind in "bi" and x.dtype.itemsize < 8 or x.dtype.kind == "b":
        x = x.long()  # like PyTorch: integer and boolean sums count in int64
    return Sum.apply(x, axes=normalize_dims(dim, x.ndim), keepdim=keepdim)


def mean(x, dim=None, keepdim=False):
    return Mean.apply(x, axes=normalize_dims(dim, x.ndim), keepdim=keepdim)


def _count(shape, axes):
    return math.prod(shape[a] for a in axes)


def _denominator(shape, axes, correction):
    """N - correction, at least 0 (then the result is inf or nan, as in PyTorch)."""
    n = _count(shape, axes) - correction
    return n if n > 0 else 0


def _correction(correction, unbiased):
    return correction if unbiased is None else int(bool(unbiased))


class Var(Op):
    """Variance over `axes` with `correction` (1: the unbiased estimate, as in PyTorch)."""
    def forward(self, x):
        diff = x - x.mean(axis=self.axes, keepdims=True)
        denom = _denominator(x.shape, self.axes, self.correction)
        self.save(diff=diff, denom=denom)
        return (diff * diff).sum(axis=self.axes, keepdims=self.keepdim) / denom

    def backward(self, dy):
        diff = self.saved.diff
        dy = expand_reduced(self.xp, dy, diff.shape, self.axes, self.keepdim)
        return (dy * diff * (2 / self.saved.denom),)


class Std(Op):
    """Standard deviation: sqrt of Var."""
    def forward(self, x):
        diff = x - x.mean(axis=self.axes, keepdims=True)
        denom = _denominator(x.shape, self.axes, self.correction)
        y = self.xp.sqrt((diff * diff).sum(axis=self.axes, keepdims=True) / denom)
        self.save(diff=diff, denom=denom, y=y)
        return y if self.keepdim else y.squeeze(self.axes)

    def backward(self, dy):
        diff, y = self.saved.diff, self.saved.y
        dy = expand_reduced(self.xp, dy, y.shape, self.axes, self.keepdim)
        return (dy * diff / (y * self.saved.denom),)


def var(x, dim=None, keepdim=False, *, correction=1, unbiased=None):
    return Var.apply(x, axes=normalize_dims(dim, x.ndim), keepdim=keepdim,
                     correction=_correction(correction, unbiased))


def std(x, dim=None, keepdim=False, *, correction=1, unbiased=None):
    return Std.apply(x, axes=normalize_dims(dim, x.ndim), keepdim=keepdim,
                     correction=_correction(correction, unbiased))


# ---- max and min ----
class _Extreme(Op):
    """Largest (or smallest) element of x; at ties the gradient is split evenly, as in PyTorch."""
    pick = None  # "max" or "min"

    def forward(self, x):
        y = getattr(x, self.pick)()
        self.save(x=x, y=y)
        return y

    def backward(self, dy):
        hit = self.saved.x == self.saved.y
        return (dy * hit / hit.sum(),)


class Max(_Extreme): pick = "max"
class Min(_Extreme): pick = "min"


class _ExtremeDim(Op):
    """Largest (or smallest) value along `axis` and its index (two outputs); the gradient goes to that index."""
    pick = None  # "argmax" or "argmin"

    def forward(self, x):
        xp = self.xp
        idx = xp.expand_dims(getattr(xp, self.pick)(x, axis=self.axis), self.axis)  # keepdim shape
        values = xp.take_along_axis(x, idx, axis=self.axis)
        self.save(idx=idx, n=x.shape[self.axis])
        if not self.keepdim:
            values, idx = values.squeeze(self.axis), idx.squeeze(self.axis)
        return values, idx

    def backward(self, dy, _):
        xp, idx, n = self.xp, self.saved.idx, self.saved.n
        if not self.keepdim:
            dy = xp.expand_dims(dy, self.axis)
        positions = xp.arange(n).reshape((n,) + (1,) * (idx.ndim - self.axis - 1))
        return (xp.where(positions == idx, dy, 0),)


class MaxDim(_ExtremeDim): pick = "argmax"
class MinDim(_ExtremeDim): pick = "argmin"


class _ArgExtreme(Op):
    """Index of the largest (or smallest) value along `axis`, or in the flattened tensor when axis is None."""
    differentiable = False
    pick = None

    def forward(self, x):
        xp = self.xp
        i = getattr(xp, self.pick)(x, axis=self.axis)
        if self.keepdim:
            i = i.reshape((1,) * x.ndim) if self.axis is None else xp.expand_dims(i, self.axis)
        return i


class ArgMax(_ArgExtreme): pick = "argmax"
class ArgMin(_ArgExtreme): pick = "argmin"


return_types = types.SimpleNamespace(
    max=collections.namedtuple("max", ["values", "indices"]),
    min=collections.namedtuple("min", ["values", "indices"]),
)


def _extreme(x, dim, keepdim, whole, along, result, elementwise):
    from ..tensor import Tensor
    if isinstance(dim, Tensor):  # torch.max(a, b): the elementwise maximum
        return elementwise(x, dim)
    if dim is None:
        if x.data.size == 0:
            raise ShapeError(f"{whole.pick}: the tensor is empty (shape {x.shape})")
        return whole.apply(x)
    (axis,) = normalize_dims(dim, x.ndim)
    values, indices = along.apply(x, axis=axis, keepdim=keepdim)
    indices.requires_grad = False
    return result(values, indices)


def max(x, dim=None, keepdim=False):  # noqa: A001
    """The largest element (dim=None), or (values, indices) along `dim` like PyTorch's return_types.max."""
    from .binary import maximum
    return _extreme(x, dim, keepdim, Max, MaxDim, return_types.max, maximum)


def min(x, dim=None, keepdim=False):  # noqa: A001
    """The smallest element (dim=None), or (values, indices) along `dim` like PyTorch's return_types.min."""
    from .binary import minimum
    return _extreme(x, dim, keepdim, Min, MinDim, return_types.min, minimum)


def argmax(x, dim=None, keepdim=False):
    return ArgMax.apply(x, axis=None if dim is None else normalize_dims(dim, x.ndim)[0], keepdim=keepdim)


def argmin(x, dim=None, keepdim=False):
    return ArgMin.apply(x, axis=None if dim is None else normalize_dims(dim, x.ndim)[0], keepdim=keepdim)


# ---- products, log-sum-exp, softmax, cumulative sums ----
class Prod(Op):
    """Product over `axes`. The gradient is the product of the other elements, also where x has zeros."""
    def forward(self, x):
        self.save(x=x)
        return x.prod(axis=self.axes, keepdims=self.keepdim)

    def backward(self, dy):
        xp, x, axes = self.xp, self.saved.x, self.axes
        zero = x == 0
        nonzero = xp.where(zero, 1, x)
        p = nonzero.prod(axis=axes, keepdims=True)  # product of the non-zero elements
        zeros = zero.sum(axis=axes, keepdims=True)
        # no zero: y / x_i; one zero: the others' product at the zero, 0 elsewhere; more: 0 everywhere
        others = xp.where(zero, xp.where(zeros == 1, p, 0), xp.where(zeros == 0, p / nonzero, 0))
        if not self.keepdim:
            dy = xp.expand_dims(dy, axes)
        return (dy * others,)


class LogSumExp(Op):
    """y = log(sum(exp(x))) over `axes`, computed after subtracting the maximum."""
    def forward(self, x):
        xp = self.xp
        m = x.max(axis=self.axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        y = xp.log(xp.exp(x - m).sum(axis=self.axes, keepdims=True)) + m
        self.save(x=x, y=y)
        return y if self.keepdim else y.squeeze(self.axes)

    def backward(self, dy):
        xp = self.xp
        if not self.keepdim:
            dy = xp.expand_dims(dy, self.axes)
        return (dy * xp.exp(self.saved.x - self.saved.y),)


class Softmax(Op):
    """y = exp(x) / sum(exp(x)) along `axis`; dx = y * (dy - sum(dy * y))."""
    def forward(self, x):
        xp = self.xp
        e = xp.exp(x - _max_along(xp, x, self.axis))
        e /= _sum_along(xp, e, self.axis)
        self.save(y=e)
        return e

    def backward(self, dy):
        y = self.saved.y
        return (y * (dy - _sum_along(self.xp, dy * y, self.axis)),)


class LogSoftmax(Op):
    """y = x - logsumexp(x) along `axis`; dx = dy - softmax(x) * sum(dy)."""
    def forward(self, x):
        y = log_softmax_array(self.xp, x, self.axis)
        self.save(y=y)
        return y

    def backward(self, dy):
        return (dy - self.xp.exp(self.saved.y) * _sum_along(self.xp, dy, self.axis),)


def _last(x, axis):
    return axis is not None and axis in (-1, x.ndim - 1)


def _max_along(xp, x, axis):
    """x.max(axis, keepdims=True), faster along the last axis (backends.last_axis_max)."""
    return backends.last_axis_max(xp, x) if _last(x, axis) else x.max(axis=axis, keepdims=True)


def _sum_along(xp, x, axis):
    """x.sum(axis, keepdims=True), faster along the last axis (backends.last_axis_sum)."""
    return backends.last_axis_sum(xp, x) if _last(x, axis) else x.sum(axis=axis, keepdims=True)


def log_softmax_array(xp, x, axis):
    """x - logsumexp(x) along `axis` of an array, shifted by the maximum so that exp cannot overflow."""
    z = x - _max_along(xp, x, axis)
    return z - xp.log(_sum_along(xp, xp.exp(z), axis))


class Cumsum(Op):
    """Running sum along `axis`; the gradient is the reversed running sum of dy."""
    def forward(self, x):
        return x.cumsum(axis=self.axis)

    def backward(self, dy):
        xp, axis = self.xp, self.axis
        return (xp.flip(xp.flip(dy, axis).cumsum(axis=axis), axis),)


def prod(x, dim=None, keepdim=False):
    if x.dtype.kind == "b":
        x = x.long()
    return Prod.apply(x, axes=normalize_dims(dim, x.ndim), keepdim=keepdim)


def logsumexp(x, dim, keepdim=False):
    return LogSumExp.apply(x, axes=normalize_dims(dim, x.ndim), keepdim=keepdim)


def _one_dim(x, dim, dtype):
    if dtype is not None:
        x = x.to(as_dtype(dtype))
    (axis,) = normalize_dims(dim, x.ndim) or (None,)
    return x, axis


def softmax(x, dim, dtype=None):
    x, axis = _one_dim(x, dim, dtype)
    return Softmax.apply(x, axis=axis)


def log_softmax(x, dim, dtype=None):
    x, axis = _one_dim(x, dim, dtype)
    return LogSoftmax.apply(x, axis=axis)


def cumsum(x, dim, dtype=None):
    if dtype is None and x.dtype.kind == "b":
        dtype = "int64"
    x, axis = _one_dim(x, dim, dtype)
    return Cumsum.apply(x, axis=axis)
