"""Import rules for the breadth of ONNX: the ops that no engine family mirrors one to one.

Each rule is written against the Tensor API, so an imported graph is differentiable by construction. Ops that
are linear in their data for fixed integer arguments (pooling, padding, resizing, gathers, scatters, top-k)
compute index and weight arrays with numpy and apply one `GatherMap`; integer-only and boolean computations
(shapes, comparisons, bit operations, quantised arithmetic) run on arrays and come back as constants.
"""
import math

import numpy as np
import onnx
from onnx import helper, numpy_helper

import autocompyute as ac
import autocompyute.functional as F
from autocompyute.ops.onnx_ops import det, einsum, gather_map, pointwise
from autocompyute.tensor import Tensor

from .registry import import_rule

# ---------------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------------


def rule(op_type, *versions, domain=""):
    """Register `fn(*inputs, **attributes)` for every opset version in `versions` (where its meaning changed)."""
    def register(fn):
        for since in versions or (1,):
            import_rule(op_type, since=since, domain=domain)(fn)
        return fn
    return register


def _a(t):
    """A Tensor's values as a numpy array (for index arithmetic; no gradient)."""
    return t.numpy() if isinstance(t, Tensor) else np.asarray(t)


def _const(array, like=None):
    """A constant Tensor on `like`'s device."""
    t = Tensor(np.asarray(array))
    return t.to(like.device) if like is not None and like.device != "cpu" else t


def _ints(t):
    return [int(v) for v in _a(t).reshape(-1)]


def _scalar(x, value):
    """`value` as a 0-d Tensor of x's dtype."""
    return _const(np.asarray(value, dtype=x.dtype), x)


def _positions(x):
    """The flat position of every element of x, shaped like x: apply a movement to it, then gather by it."""
    return np.arange(x.numel(), dtype=np.int64).reshape(x.shape)


def _gather(x, positions):
    return gather_map([x], positions)


def _axes(axes, ndim):
    return tuple(sorted(int(a) % ndim for a in axes)) if ndim else ()


def _is_float(x):
    return x.dtype.kind == "f"


# ---------------------------------------------------------------------------------------------------------
# elementwise math
# ---------------------------------------------------------------------------------------------------------
@rule("Acos", 7)
def acos(x): return pointwise(x, "acos")
@rule("Asin", 7)
def asin(x): return pointwise(x, "asin")
@rule("Atan", 7)
def atan(x): return pointwise(x, "atan")
@rule("Tan", 7)
def tan(x): return pointwise(x, "tan")
@rule("Floor", 1, 6, 13)
def floor(x): return pointwise(x, "floor")
@rule("Ceil", 1, 6, 13)
def ceil(x): return pointwise(x, "ceil")
@rule("Round", 11)
def round_(x): return pointwise(x, "round")


@rule("Sign", 9, 13)
def sign(x):
    return pointwise(x, "sign") if _is_float(x) else _const(np.sign(_a(x)), x)


@rule("Sinh", 9)
def sinh(x): return (F.exp(x) - F.exp(-x)) * 0.5
@rule("Cosh", 9)
def cosh(x): return (F.exp(x) + F.exp(-x)) * 0.5
@rule("Asinh", 9)
def asinh(x): return F.log(x + F.sqrt(x * x + 1.0))
@rule("Acosh", 9)
def acosh(x): return F.log(x + F.sqrt(x * x - 1.0))
@rule("Atanh", 9)
def atanh(x): return F.log((1.0 + x) / (1.0 - x)) * 0.5
@rule("Softsign", 1)
def softsign(x): return x / (F.abs(x) + 1.0)


@rule("Elu", 1, 6)
def elu(x, *, alpha=1.0):
    return F.where(x > 0, x, (F.exp(F.minimum(x, _scalar(x, 0))) - 1.0) * alpha)


@rule("Celu", 12)
def celu(x, *, alpha=1.0):
    return F.maximum(x, _scalar(x, 0)) + F.minimum(
        _scalar(x, 0), (F.exp(F.minimum(x, _scalar(x, 0)) / alpha) - 1.0) * alpha)


@rule("Selu", 1, 6)
def selu(x, *, alpha=1.67326319217681884765625, gamma=1.05070102214813232421875):
    return F.where(x > 0, x * gamma, (F.exp(F.minimum(x, _scalar(x, 0))) - 1.0) * (alpha * gamma))


@rule("ThresholdedRelu", 10)
def thresholded_relu(x, *, alpha=1.0):
    return F.where(x > alpha, x, _scalar(x, 0))


@rule("HardSigmoid", 1, 6)
def hard_sigmoid(x, *, alpha=0.2, beta=0.5):
    return F.clamp(x * alpha + beta, 0.0, 1.0)


@rule("HardSwish", 14)
def hard_swish(x):
    return x * F.clamp(x * (1 / 6) + 0.5, 0.0, 1.0)


@rule("Softplus", 1)
def softplus(x):
    return F.softplus(x)


@rule("Mish", 18)
def mish(x):
    return x * F.tanh(F.softplus(x))


@rule("Swish", 24)
def swish(x, *, alpha=1.0):
    return x * F.sigmoid(x * alpha)


@rule("Shrink", 9)
def shrink(x, *, bias=0.0, lambd=0.5):
    zero = _scalar(x, 0)
    return F.where(x < -lambd, x + bias, F.where(x > lambd, x - bias, zero))


@rule("PRelu", 1, 6, 7, 9, 16)
def prelu(x, slope):
    if slope.ndim == 1 and x.ndim > 2 and slope.shape[0] == x.shape[1] != x.shape[-1]:
        slope = F.reshape(slope, (-1,) + (1,) * (x.ndim - 2))  # opset < 7: the slope runs along channels
    return F.where(x < 0, x * slope, x)


@rule("LeakyRelu", 1, 6, 16)
def leaky_relu(x, *, alpha=0.01):
    return F.where(x < 0, x * alpha, x)


@rule("IsNaN", 9, 13, 20)
def isnan(x): return _const(np.isnan(_a(x)), x)


@rule("IsInf", 10, 20)
def isinf(x, *, detect_negative=1, detect_positive=1):
    a = _a(x)
    return _const((np.isposinf(a) & bool(detect_positive)) | (np.isneginf(a) & bool(detect_negative)), x)


@rule("Mod", 10, 13)
def mod(a, b, *, fmod=0):
    """fmod=1: the remainder takes the dividend's sign (C fmod); fmod=0 (integers only): the divisor's."""
    x, y = _a(a), _a(b)
    if _is_float(a) and (a.requires_grad or b.requires_grad):  # y = a - b * k, k constant
        k = (np.trunc if fmod else np.floor)(x / y)
        return F.sub(a, F.mul(b, _const(k.astype(a.dtype), a)))
    return _const((np.fmod if fmod else np.mod)(x, y).astype(np.result_type(x, y)), a)


def _variadic(fn, xs):
    out = xs[0]
    for x in xs[1:]:
        out = fn(out, x)
    return out


@rule("Sum", 1, 6, 8, 13)
def sum_(*xs): return _variadic(F.add, xs)
@rule("Mean", 1, 6, 8, 13)
def mean_(*xs): return _variadic(F.add, xs) * (1.0 / len(xs))


# ---- bits: no gradient ----
def _np_rule(op_type, versions, fn):
    rule(op_type, *versions)(lambda *xs: _const(fn(*[_a(x) for x in xs]), xs[0]))


_np_rule("BitwiseAnd", (18,), np.bitwise_and)
_np_rule("BitwiseOr", (18,), np.bitwise_or)
_np_rule("BitwiseXor", (18,), np.bitwise_xor)
_np_rule("BitwiseNot", (18,), np.bitwise_not)


@rule("BitShift", 11)
def bit_shift(x, y, *, direction="LEFT"):
    a, b = _a(x), _a(y).astype(_a(x).dtype)
    return _const(np.left_shift(a, b) if direction == "LEFT" else np.right_shift(a, b), x)


@rule("Size", 1, 13, 19, 21)
def size(x): return _const(np.asarray(x.numel(), dtype=np.int64))


# ---- the softmax along one axis (SoftmaxCrossEntropyLoss) ----
def _softmax_along(x, axis, log=False):
    m = _const(np.max(_a(x), axis=axis, keepdims=True), x)
    z = x - m
    lse = F.log(F.sum(F.exp(z), axis, keepdim=True))
    return z - lse if log else F.exp(z - lse)


# ---------------------------------------------------------------------------------------------------------
# gathers, scatters and shuffles: index arithmetic on positions, then one GatherMap
# ---------------------------------------------------------------------------------------------------------
def _moved(x, fn):
    """Apply a numpy movement `fn` to x: on the values directly for integers, through positions for floats."""
    if not _is_float(x):
        return _const(fn(_a(x)), x)
    return _gather(x, fn(_positions(x)))


def _fix_index(idx, n):
    idx = np.asarray(idx, dtype=np.int64)
    return np.where(idx < 0, idx + n, idx)


@rule("GatherElements", 11, 13)
def gather_elements(x, indices, *, axis=0):
    idx = _fix_index(_a(indices), x.shape[axis])
    return _moved(x, lambda a: np.take_along_axis(a, idx, axis=axis))


def _gather_nd_np(a, idx, batch_dims):
    batch = a.shape[:batch_dims]
    nb = math.prod(batch)
    a2 = a.reshape((nb,) + a.shape[batch_dims:])
    i2 = idx.reshape((nb,) + idx.shape[batch_dims:])
    k = idx.shape[-1]
    out = []
    for b in range(nb):
        ib = i2[b]
        ib = np.where(ib < 0, ib + np.array(a2.shape[1:1 + k]), ib)
        out.append(a2[b][tuple(np.moveaxis(ib, -1, 0))])
    res = np.stack(out) if out else np.zeros((0,) + idx.shape[batch_dims:-1] + a.shape[batch_dims + k:], a.dtype)
    return res.reshape(batch + idx.shape[batch_dims:-1] + a.shape[batch_dims + k:])


@rule("GatherND", 11, 12, 13)
def gather_nd(x, indices, *, batch_dims=0):
    idx = _a(indices).astype(np.int64)
    return _moved(x, lambda a: _gather_nd_np(a, idx, batch_dims))


def _scatter(data, updates, place, reduction="none"):
    """Scatter `updates` into `data`: `place(target, values)` writes with numpy. Reductions other than none
    and add are computed on values (their gradient passes to the data only where nothing was written)."""
    if reduction in ("none", "add") and _is_float(data):
        n = data.numel()
        pos = _positions(data)
        upd = np.arange(n, n + updates.numel(), dtype=np.int64).reshape(updates.shape)
        if reduction == "none":
            place(pos, upd)
            return gather_map([data, updates], pos)
        # add: each output sums its data element and every update written to it
        lists = [[p] for p in pos.reshape(-1)]
        _collect(place, pos, upd, lists)
        k = max(len(v) for v in lists)
        index = np.array([v + [v[0]] * (k - len(v)) for v in lists]).reshape(pos.shape + (k,))
        weight = np.array([[1.0] * len(v) + [0.0] * (k - len(v)) for v in lists]).reshape(pos.shape + (k,))
        return gather_map([data, updates], index, weight)
    out = _a(data).copy()
    vals = _a(updates)
    if reduction == "none":
        place(out, vals)
    else:
        fn = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}[reduction]
        _reduce_place(place, out, vals, fn)
    return _const(out, data)


def _collect(place, pos, upd, lists):
    """For every update element, find the output position it is written to (by placing its id and reading back)."""
    probe = np.full(pos.shape, -1, dtype=np.int64)
    flat_upd = upd.reshape(-1)
    # write one update at a time so repeated targets are all seen
    for j, u in enumerate(flat_upd):
        single = np.full(upd.shape, -1, dtype=np.int64)
        single.reshape(-1)[j] = u
        probe[...] = -1
        place(probe, single, only=j)
        hit = np.nonzero(probe.reshape(-1) == u)[0]
        for h in hit:
            lists[h].append(int(u))


def _reduce_place(place, out, vals, fn):
    flat = vals.reshape(-1)
    for j in range(flat.size):
        probe = np.zeros(out.shape, dtype=bool)
        marks = np.zeros(vals.shape, dtype=bool)
        marks.reshape(-1)[j] = True
        place(probe, marks, only=j)
        out[probe] = fn(out[probe], flat[j])


def _elements_placer(indices, axis):
    def place(target, values, only=None):
        idx = _fix_index(indices, target.shape[axis])
        coords = list(np.indices(idx.shape))  # every update's coordinates, with `axis` taken from indices
        coords[axis] = idx
        if only is not None:
            coords = [c.reshape(-1)[only] for c in coords]
            values = values.reshape(-1)[only]
        target[tuple(coords)] = values
    return place


def _nd_placer(indices):
    def place(target, values, only=None):
        idx = np.asarray(indices, dtype=np.int64)
        k = idx.shape[-1]
        idx = np.where(idx < 0, idx + np.array(target.shape[:k]), idx)
        rows = idx.reshape(-1, k)
        vals = values.reshape((rows.shape[0],) + target.shape[k:])
        slice_size = math.prod(target.shape[k:])
        for r, row in enumerate(rows):
            if only is not None and not (r * slice_size <= only < (r + 1) * slice_size):
                continue
            if only is None:
                target[tuple(row)] = vals[r]
            else:
                sub = np.unravel_index(only - r * slice_size, target.shape[k:]) if target.shape[k:] else ()
                target[tuple(row) + tuple(sub)] = vals[r][sub]
    return place


@rule("ScatterElements", 11, 13, 16, 18)
def scatter_elements(data, indices, updates, *, axis=0, reduction="none"):
    return _scatter(data, updates, _elements_placer(_a(indices), axis), reduction)


@rule("Scatter", 9, 11)
def scatter(data, indices, updates, *, axis=0):
    return _scatter(data, updates, _elements_placer(_a(indices), axis))


@rule("ScatterND", 11, 13, 16, 18)
def scatter_nd(data, indices, updates, *, reduction="none"):
    return _scatter(data, updates, _nd_placer(_a(indices)), reduction)


@rule("DepthToSpace", 1, 11, 13)
def depth_to_space(x, *, blocksize, mode="DCR"):
    b = blocksize

    def fn(a):
        n, c, h, w = a.shape
        if mode == "DCR":
            t = a.reshape(n, b, b, c // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2)
        else:
            t = a.reshape(n, c // (b * b), b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
        return t.reshape(n, c // (b * b), h * b, w * b)
    return _moved(x, fn)


@rule("SpaceToDepth", 1, 13, 28)
def space_to_depth(x, *, blocksize, mode="DCR"):
    b = blocksize

    def fn(a):
        n, c, h, w = a.shape
        t = a.reshape(n, c, h // b, b, w // b, b)
        t = t.transpose(0, 3, 5, 1, 2, 4) if mode == "DCR" else t.transpose(0, 1, 3, 5, 2, 4)
        return t.reshape(n, c * b * b, h // b, w // b)
    return _moved(x, fn)


@rule("ReverseSequence", 10)
def reverse_sequence(x, sequence_lens, *, batch_axis=1, time_axis=0):
    lens = _ints(sequence_lens)

    def fn(a):
        out = a.copy()
        for b, n in enumerate(lens):
            src = [slice(None)] * a.ndim
            src[batch_axis], src[time_axis] = b, slice(0, n)
            out[tuple(src)] = np.flip(a[tuple(src)], axis=time_axis - (batch_axis < time_axis))
        return out
    return _moved(x, fn)


@rule("Compress", 9, 11)
def compress(x, condition, *, axis=None):
    cond = _a(condition).astype(bool)
    return _moved(x, lambda a: np.compress(cond, a, axis=axis))


@rule("CenterCropPad", 18)
def center_crop_pad(x, shape, *, axes=None):
    target = _ints(shape)
    axes = list(range(x.ndim)) if axes is None else [a % x.ndim for a in axes]
    pos = _positions(x)
    n = x.numel()
    for ax, size in zip(axes, target):
        cur = pos.shape[ax]
        if size < cur:  # crop: the centre, rounding the start down
            start = (cur - size) // 2
            pos = np.take(pos, np.arange(start, start + size), axis=ax)
        elif size > cur:  # pad with zeros (index n: an extra zero input)
            before = (size - cur) // 2
            widths = [(0, 0)] * pos.ndim
            widths[ax] = (before, size - cur - before)
            pos = np.pad(pos, widths, constant_values=n)
    return gather_map([x, _scalar(x, 0)], pos) if _is_float(x) else _const(
        np.append(_a(x).reshape(-1), 0)[pos], x)


@rule("EyeLike", 9, 22)
def eye_like(x, *, dtype=None, k=0):
    np_dtype = _onnx_dtype(dtype) if dtype is not None else _a(x).dtype
    return _const(np.eye(x.shape[0], x.shape[1], k=k, dtype=np_dtype), x)


def _onnx_dtype(code):
    from onnx import helper
    return helper.tensor_dtype_to_np_dtype(code)


@rule("OneHot", 9, 11)
def one_hot(indices, depth, values, *, axis=-1):
    d = int(_a(depth).reshape(-1)[0])
    idx = _a(indices).astype(np.int64)
    idx = np.where(idx < 0, idx + d, idx)
    hot = idx[..., None] == np.arange(d)
    hot = np.moveaxis(hot, -1, axis % (idx.ndim + 1))
    off, on = _a(values)[0], _a(values)[1]
    return _const(np.where(hot, on, off).astype(_a(values).dtype), values)


@rule("NonZero", 9, 13)
def non_zero(x):
    return _const(np.array(np.nonzero(_a(x)), dtype=np.int64).reshape(x.ndim, -1), x)


@rule("Unique", 11)
def unique(x, *, axis=None, sorted=1):  # noqa: A002
    a = _a(x)
    vals, first, inverse, counts = np.unique(a, return_index=True, return_inverse=True, return_counts=True, axis=axis)
    if not sorted:
        order = np.argsort(first, kind="stable")
        vals = np.take(vals, order, axis=0 if axis is None else axis)
        first, counts = first[order], counts[order]
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        inverse = rank[inverse.reshape(-1)]
    return (_const(vals, x), _const(first.astype(np.int64), x), _const(inverse.reshape(-1).astype(np.int64), x),
            _const(counts.astype(np.int64), x))


@rule("TopK", 10, 11)
def top_k(x, k, *, axis=-1, largest=1, sorted=1):  # noqa: A002
    kk = int(_a(k).reshape(-1)[0])
    a = _a(x)
    axis %= a.ndim
    # stable order; among equal values the smaller index comes first
    rank = np.unique(a, return_inverse=True)[1].reshape(a.shape).astype(np.int64)  # any dtype, unsigned too
    order = np.argsort(-rank if largest else rank, axis=axis, kind="stable")
    idx = np.take(order, np.arange(kk), axis=axis)
    values = _moved(x, lambda v: np.take_along_axis(v, idx, axis=axis))
    return values, _const(idx.astype(np.int64), x)


rule("TopK", 1)(lambda x, *, axis=-1, k: top_k(x, _const(np.array([k])), axis=axis))


def _cumulative(x, axis, exclusive, reverse, fn):
    ax = int(_a(axis).reshape(-1)[0]) % x.ndim
    if reverse:
        x = _moved(x, lambda a: np.flip(a, ax))
    y = fn(x, ax)
    if exclusive:  # shift by one along the axis, a zero (or one) first
        n = x.shape[ax]
        pos = _positions(y)
        shifted = np.concatenate([np.full_like(np.take(pos, [0], axis=ax), y.numel()),
                                  np.take(pos, np.arange(n - 1), axis=ax)], axis=ax)
        pad = 0 if fn is _cumsum else 1
        y = gather_map([y, _scalar(y, pad)], shifted) if _is_float(y) else _const(
            np.append(_a(y).reshape(-1), np.asarray(pad, y.dtype))[shifted], y)
    if reverse:
        y = _moved(y, lambda a: np.flip(a, ax))
    return y


def _cumsum(x, ax):
    if not _is_float(x):
        return _const(np.cumsum(_a(x), axis=ax).astype(x.dtype), x)
    n = x.shape[ax]
    tri = np.tril(np.ones((n, n), dtype=x.dtype))  # y_i = sum_{j <= i} x_j
    moved = F.permute(x, [d for d in range(x.ndim) if d != ax] + [ax])
    y = F.matmul(moved, _const(tri.T, x))
    back = list(range(x.ndim - 1))
    back.insert(ax, x.ndim - 1)
    return F.permute(y, back)


def _cumprod(x, ax):
    if not _is_float(x):
        return _const(np.cumprod(_a(x), axis=ax).astype(x.dtype), x)
    # y_i = prod_{j <= i} x_j as a product of gathered prefixes (exact gradient, zeros allowed)
    n = x.shape[ax]
    pos = _positions(x)
    out = None
    for j in range(n):
        term = np.take(pos, [j], axis=ax)
        take = np.where(np.arange(n).reshape([-1 if d == ax else 1 for d in range(x.ndim)]) >= j,
                        np.broadcast_to(term, pos.shape), x.numel())
        factor = gather_map([x, _scalar(x, 1)], take)
        out = factor if out is None else out * factor
    return out


@rule("CumSum", 11, 14)
def cum_sum(x, axis, *, exclusive=0, reverse=0):
    return _cumulative(x, axis, exclusive, reverse, _cumsum)


@rule("CumProd", 26)
def cum_prod(x, axis, *, exclusive=0, reverse=0):
    return _cumulative(x, axis, exclusive, reverse, _cumprod)


@rule("Einsum", 12)
def einsum_(*xs, equation):
    if all(_is_float(x) for x in xs):
        return einsum(equation, *xs)
    return _const(np.einsum(equation, *[_a(x) for x in xs]), xs[0])


@rule("TensorScatter", 24)
def tensor_scatter(past, update, write_indices=None, *, axis=-2, mode="linear"):
    """Write update[b] into the cache of batch b at write_indices[b] along `axis` (wrapping when circular)."""
    ax = axis % past.ndim
    starts = _ints(write_indices) if write_indices is not None else [0] * past.shape[0]
    length, seq = past.shape[ax], update.shape[ax]

    def place(target, values, only=None):
        ids = np.arange(values.size).reshape(values.shape)
        for b, start in enumerate(starts):
            for i in range(seq):
                j = (start + i) % length if mode == "circular" else start + i
                dst = [slice(None)] * target.ndim
                src = [slice(None)] * target.ndim
                dst[0], dst[ax], src[0], src[ax] = b, j, b, i
                if only is None:
                    target[tuple(dst)] = values[tuple(src)]
                else:
                    hit = ids[tuple(src)] == only
                    part = target[tuple(dst)]
                    part[hit] = values[tuple(src)][hit]
    return _scatter(past, update, place)


# ---------------------------------------------------------------------------------------------------------
# MaxUnpool: MaxPool's indices put the values back, zeros elsewhere
# ---------------------------------------------------------------------------------------------------------
@rule("MaxUnpool", 9, 11, 22)
def max_unpool(x, indices, output_shape=None, *, kernel_shape, pads=None, strides=None):
    nd = x.ndim - 2
    strides = strides or [1] * nd
    pads = pads or [0] * (2 * nd)
    inferred = list(x.shape[:2]) + [(x.shape[2 + d] - 1) * strides[d] + kernel_shape[d] - pads[d] - pads[d + nd]
                                    for d in range(nd)]
    pos = np.full(math.prod(inferred), x.numel(), dtype=np.int64)  # unwritten: an extra zero
    pos[_a(indices).reshape(-1)] = np.arange(x.numel())
    pos = pos.reshape(inferred)
    if output_shape is not None:  # the inferred result sits at the start of the larger output
        shape = _ints(output_shape)
        pos = np.pad(pos, [(0, s - i) for s, i in zip(shape, inferred)], constant_values=x.numel())
    return gather_map([x, _scalar(x, 0)], pos)


# ---------------------------------------------------------------------------------------------------------
# Pad: constant, reflect, edge and wrap; negative pads crop
# ---------------------------------------------------------------------------------------------------------
def _pad(x, pads, mode, value, axes=None):
    axes = list(range(x.ndim)) if axes is None else [a % x.ndim for a in axes]
    k = len(axes)
    widths = [[0, 0] for _ in range(x.ndim)]
    for i, ax in enumerate(axes):
        widths[ax] = [pads[i], pads[i + k]]
    pos = _positions(x)
    crop = tuple(slice(max(-b, 0), pos.shape[d] - max(-e, 0)) for d, (b, e) in enumerate(widths))
    pos = pos[crop]
    grow = [(max(b, 0), max(e, 0)) for b, e in widths]
    n = x.numel()
    if mode == "constant":
        pos = np.pad(pos, grow, constant_values=n)
        if value is None:
            value = _scalar(x, 0)
        extra = F.reshape(value, (1,)) if _is_float(x) else value
        if _is_float(x):
            return gather_map([x, F.cast(extra, x.dtype) if extra.dtype != x.dtype else extra], pos)
        return _const(np.append(_a(x).reshape(-1), _a(value).reshape(-1)[:1].astype(x.dtype))[pos], x)
    pos = np.pad(pos, grow, mode={"reflect": "reflect", "edge": "edge", "wrap": "wrap"}[mode])
    return _gather(x, pos) if _is_float(x) else _const(_a(x).reshape(-1)[pos], x)


rule("Pad", 1)(lambda x, *, paddings, mode="constant", value=0.0: _pad(x, paddings, mode, _scalar(x, value)))
rule("Pad", 2)(lambda x, *, pads, mode="constant", value=0.0: _pad(x, pads, mode, _scalar(x, value)))


@rule("Pad", 11, 13, 18, 19, 21, 23, 24, 25)
def pad(x, pads, constant_value=None, axes=None, *, mode="constant"):
    return _pad(x, _ints(pads), mode, constant_value, None if axes is None else _ints(axes))


# ---------------------------------------------------------------------------------------------------------
# losses and normalisations
# ---------------------------------------------------------------------------------------------------------
def _nll(logp, target, weight, reduction, ignore_index):
    """-logp[n, target[n, ...], ...] * weight[target], reduced as ONNX says (mean divides by the total weight)."""
    t = _a(target).astype(np.int64)
    ignored = (t == ignore_index) if ignore_index is not None else np.zeros(t.shape, dtype=bool)
    safe = np.where(ignored, 0, t)
    c = logp.shape[1]
    pos = _positions(logp)  # (N, C, *d)
    picked = np.take_along_axis(pos, safe[:, None], axis=1)[:, 0]  # (N, *d)
    w = (_a(weight)[safe] if weight is not None else np.ones(t.shape)) * ~ignored
    assert c > 0
    loss = -gather_map([logp], picked) * _const(w.astype(logp.dtype), logp)
    if reduction == "none":
        return loss
    total = F.sum(loss)
    return total if reduction == "sum" else total / _scalar(logp, w.sum())


@rule("NegativeLogLikelihoodLoss", 12, 13, 22)
def negative_log_likelihood_loss(x, target, weight=None, *, ignore_index=None, reduction="mean"):
    return _nll(x, target, weight, reduction, ignore_index)


@rule("SoftmaxCrossEntropyLoss", 12, 13)
def softmax_cross_entropy_loss(scores, labels, weights=None, *, ignore_index=None, reduction="mean"):
    logp = _softmax_along(scores, 1, log=True) if scores.ndim > 1 else scores
    return _nll(logp, labels, weights, reduction, ignore_index), logp


@rule("RMSNormalization", 23)
def rms_normalization(x, scale, *, axis=-1, epsilon=1e-5, stash_type=1):
    axes = tuple(range(axis % x.ndim, x.ndim))
    return x * F.rsqrt(F.mean(x * x, axes, keepdim=True) + epsilon) * scale


@rule("LpNormalization", 1, 22)
def lp_normalization(x, *, axis=-1, p=2):
    ax = axis % x.ndim
    norm = F.sum(F.abs(x), ax, keepdim=True) if p == 1 else F.sqrt(F.sum(x * x, ax, keepdim=True))
    zero = _const(_a(norm) == 0, x)
    return F.where(zero, _scalar(x, 0), x / F.where(zero, _scalar(x, 1), norm))


@rule("MeanVarianceNormalization", 9, 13)
def mean_variance_normalization(x, *, axes=(0, 2, 3)):
    axes = _axes(axes, x.ndim)
    centred = x - F.mean(x, axes, keepdim=True)
    return centred / F.sqrt(F.mean(centred * centred, axes, keepdim=True) + 1e-9)


@rule("LRN", 1, 13)
def lrn(x, *, size, alpha=1e-4, beta=0.75, bias=1.0):
    c = x.shape[1]
    lo, hi = (size - 1) // 2, -(-(size - 1) // 2)
    pos = _positions(x)
    offsets = np.arange(-lo, hi + 1)
    chan = np.arange(c)[:, None] + offsets[None, :]  # (C, size)
    ok = (chan >= 0) & (chan < c)
    moved = np.moveaxis(pos, 1, -1)  # (N, *d, C)
    win = np.where(ok, np.take(moved, np.clip(chan, 0, c - 1), axis=-1), x.numel())  # (N, *d, C, size)
    win = np.moveaxis(win, -2, 1)  # (N, C, *d, size)
    sq = F.sum(gather_map([x, _scalar(x, 0)], win) ** 2.0, -1)
    return x / (sq * (alpha / size) + bias) ** beta


# ---------------------------------------------------------------------------------------------------------
# Scan: runs eagerly like Loop, so gradients flow through every iteration
# ---------------------------------------------------------------------------------------------------------
def _scan_run(body, states, scans, in_axes, in_dirs, out_axes, out_dirs, ctx):
    """One scan over `scans` (Tensors, sliced along in_axes) carrying `states`; returns states + stacked outputs."""
    from . import safety
    n = len(states)
    steps = scans[0].shape[in_axes[0]] if scans else 0
    if steps > safety.LIMITS["max_loop_iterations"]:
        raise safety.UnsafeModelError(f"Scan: {steps:,} iterations exceed "
                                      "interop.onnx.safety.LIMITS['max_loop_iterations']")
    collected = []
    for t in range(steps):
        slices = []
        for x, ax, rev in zip(scans, in_axes, in_dirs):
            slices.append(x[(slice(None),) * ax + (steps - 1 - t if rev else t,)])
        outs = ctx.run(body, [*states, *slices])
        states = list(outs[:n])
        collected.append(outs[n:])
    k = len(body.outputs) - n
    stacked = []
    for j in range(k):
        ys = [c[j] for c in collected]
        if out_dirs[j]:
            ys = ys[::-1]
        stacked.append(F.stack(ys, out_axes[j]) if ys else Tensor(np.zeros((0,), np.float32)))
    return states, stacked


def _scan_attrs(values, count, default, ndim=None):
    out = list(values) if values else [default] * count
    return out if ndim is None else [a % nd for a, nd in zip(out, ndim)]


@import_rule("Scan", since=9)
def scan(*inputs, body, num_scan_inputs, scan_input_axes=None, scan_input_directions=None,
         scan_output_axes=None, scan_output_directions=None, ctx):
    """inputs = N initial states, then M scan inputs; the body maps (states, slices) -> (states, slices out)."""
    n = len(inputs) - num_scan_inputs
    states, scans = list(inputs[:n]), list(inputs[n:])
    k = len(body.outputs) - n
    in_axes = _scan_attrs(scan_input_axes, len(scans), 0, [x.ndim for x in scans])
    in_dirs = _scan_attrs(scan_input_directions, len(scans), 0)
    out_dirs = _scan_attrs(scan_output_directions, k, 0)
    out_axes = [int(a) for a in _scan_attrs(scan_output_axes, k, 0)]
    # a negative output axis counts in the stacked rank (one more than a slice's)
    states, stacked = _scan_run(body, states, scans, in_axes, in_dirs, out_axes, out_dirs, ctx)
    result = states + stacked
    return tuple(result) if len(result) != 1 else result[0]


@import_rule("Scan", since=8)
def scan_8(sequence_lens, *inputs, body, num_scan_inputs, directions=None, ctx):
    """Opset 8: a leading batch axis on every input; each batch entry is scanned along its axis 1 (up to its
    sequence length), and the results are stacked again."""
    n = len(inputs) - num_scan_inputs
    k = len(body.outputs) - n
    batch = inputs[0].shape[0]
    lens = None if sequence_lens is None else _ints(sequence_lens)
    dirs = _scan_attrs(directions, num_scan_inputs, 0)
    per_batch = []
    for b in range(batch):
        states = [x[b] for x in inputs[:n]]
        scans = [x[b] for x in inputs[n:]]
        if lens is not None:
            scans = [x[:lens[b]] for x in scans]
        states, stacked = _scan_run(body, states, scans, [0] * len(scans), dirs, [0] * k, [0] * k, ctx)
        per_batch.append(states + stacked)
    steps = inputs[n].shape[1] if num_scan_inputs else 0
    for r in per_batch:  # a sequence shorter than the batch's: its scan outputs end in zeros
        for j in range(n, n + k):
            short = steps - r[j].shape[0]
            if short > 0:
                r[j] = F.cat([r[j], _const(np.zeros((short, *r[j].shape[1:]), r[j].dtype), r[j])], 0)
    result = [F.stack([r[j] for r in per_batch], 0) for j in range(n + k)]
    return tuple(result) if len(result) != 1 else result[0]


# ---------------------------------------------------------------------------------------------------------
# ops that ONNX defines by a function body: run the body (its nodes go through the other rules, so the
# gradient flows as through any imported graph)
# ---------------------------------------------------------------------------------------------------------
_FUNCTION_MODULES = {}


def _attr_for_proto(v):
    return numpy_helper.from_array(_a(v)) if isinstance(v, Tensor) else v


def _node_attributes(model, outputs):
    """The AttributeProtos of the node (in `model`, subgraphs included) that writes `outputs`."""
    stack = [model.graph] + [f for f in model.functions]
    while stack:
        g = stack.pop()
        for n in g.node:
            if list(n.output) == list(outputs):
                return {a.name: a for a in n.attribute}
            for a in n.attribute:
                stack.extend([a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs))
    return {}


def _function_module(op_type, domain, opset, attrs, inputs, node_outputs, onnx_opset, protos):
    """An imported one-node model whose node is expanded by the schema's function body (cached by signature)."""
    from ..importer import import_onnx
    names = [f"x{i}" if x is not None else "" for i, x in enumerate(inputs)]
    while names and not names[-1]:
        names.pop()
    outs = [f"y{i}" if n else "" for i, n in enumerate(node_outputs)]
    key = (op_type, domain, opset, repr(sorted((k, repr(_attr_for_proto(v))) for k, v in attrs.items() if k not in protos)),
           tuple((k, a.SerializeToString()) for k, a in sorted(protos.items())),
           tuple((x.dtype.str, tuple(x.shape)) for x in inputs if x is not None), tuple(names), tuple(outs))
    module = _FUNCTION_MODULES.get(key)
    if module is not None:
        return module
    node = helper.make_node(op_type, names, outs, domain=domain,
                            **{k: _attr_for_proto(v) for k, v in attrs.items() if k not in protos})
    node.attribute.extend(protos.values())
    types = [helper.make_tensor_type_proto(helper.np_dtype_to_tensor_dtype(x.dtype), x.shape)
             for x in inputs if x is not None]
    schema = onnx.defs.get_schema(op_type, opset, domain)
    given = {a.name for a in node.attribute}
    for name, spec in schema.attributes.items():  # the body may refer to attributes the node leaves at default
        if name not in given and spec.default_value.type:
            default = onnx.AttributeProto.FromString(spec.default_value.SerializeToString())
            default.name = name
            node.attribute.append(default)
    if schema.has_context_dependent_function:
        fn = onnx.FunctionProto()
        fn.ParseFromString(schema.get_context_dependent_function_with_opset_version(
            opset, node.SerializeToString(), [t.SerializeToString() for t in types]))
    else:
        body = schema.get_function_with_opset_version(opset) or schema.function_body
        fn = body if isinstance(body, onnx.FunctionProto) else onnx.FunctionProto.FromString(body)
    fn.name, fn.domain = op_type, domain
    produced = {o for n in fn.node for o in n.output} | set(fn.input)
    for o in fn.output:  # outputs the node leaves unnamed may have no producer in a context-dependent body
        if o not in produced:
            fn.node.append(helper.make_node("Constant", [], [o], value=numpy_helper.from_array(
                np.zeros((0,), np.float32))))
    graph = helper.make_graph(
        [node], op_type,
        [helper.make_value_info(n, t) for n, t in zip([n for n in names if n], types)],
        [helper.make_empty_tensor_value_info(o) for o in outs if o])
    opsets = {o.domain: o.version for o in fn.opset_import}
    opsets.setdefault("", onnx_opset)
    opsets[domain] = opset
    model = helper.make_model(graph, functions=[fn],
                              opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()])
    if len(_FUNCTION_MODULES) > 512:  # shapes vary (sequence lengths): keep the cache bounded
        _FUNCTION_MODULES.clear()
    module = _FUNCTION_MODULES[key] = import_onnx(model)
    return module


def _graph_attributes(ctx, attrs):
    """The node's GRAPH/GRAPHS attributes as AttributeProtos (the rule sees them compiled)."""
    from ..importer import Graph
    graphs = [k for k, v in attrs.items() if isinstance(v, Graph) or isinstance(v, list) and v and
              isinstance(v[0], Graph)]
    if not graphs:
        return {}
    found = _node_attributes(ctx.module._proto, ctx.node.outputs)
    return {k: found[k] for k in graphs}


def run_function_body(op_type, inputs, attrs, ctx, domain="", default_opset=1):
    """Run the node in `ctx` (op_type, `inputs` with None for omitted ones, parsed `attrs`) through ONNX's
    function body for it. A family rule can call this for the attribute combinations it does not compose."""
    opsets = ctx.module.opset
    opset = opsets.get(domain or "ai.onnx", default_opset)
    protos = _graph_attributes(ctx, attrs)
    module = _function_module(op_type, domain, opset, attrs, inputs, ctx.node.outputs,
                              opsets.get("ai.onnx", onnx.defs.onnx_opset_version()), protos)
    outs = module(*[x for x in inputs if x is not None])
    outs = list(outs) if isinstance(outs, tuple) else [outs]
    it = iter(outs)
    result = [next(it) if n else None for n in ctx.node.outputs]
    return tuple(result) if len(result) != 1 else result[0]


def _by_function(op_type, *versions, domain=""):
    """A rule for `op_type` that runs ONNX's own function body for it, where no family file has a rule."""
    def expand(*inputs, ctx, **attrs):
        return run_function_body(op_type, inputs, attrs, ctx, domain, versions[-1])
    expand.__name__ = f"{op_type}_by_function"
    rule(op_type, *versions, domain=domain)(expand)
    return expand


for _op, _versions in (("LinearAttention", (27,)), ("RotaryEmbedding", (23,)), ("SwiGLU", (28,)),
                       ("CausalConvWithState", (27,)), ("AffineGrid", (20,))):
    _by_function(_op, *_versions)
_by_function("FlexAttention", 1, domain="ai.onnx.preview")


# ---------------------------------------------------------------------------------------------------------
# BitCast, Det
# ---------------------------------------------------------------------------------------------------------
@rule("BitCast", 26)
def bit_cast(x, *, to):
    """The same bytes read as another element type of the same width (no gradient)."""
    dtype = np.dtype(helper.tensor_dtype_to_np_dtype(to))
    a = np.array(_a(x), order="C")  # (ascontiguousarray would make a 0-d array 1-d)
    if dtype.itemsize != a.dtype.itemsize:
        raise ValueError(f"BitCast: {a.dtype} and {dtype} differ in width")
    return _const(a.view(dtype), x)


@rule("Det", 11, 22)
def det_(x):
    return det(x)


# ---------------------------------------------------------------------------------------------------------
# RNN (the simple recurrent layer; LSTM and GRU live in rnn.py)
# ---------------------------------------------------------------------------------------------------------
_RNN_ACTIVATIONS = {
    "tanh": lambda x, a, b: F.tanh(x), "relu": lambda x, a, b: F.relu(x), "sigmoid": lambda x, a, b: F.sigmoid(x),
    "affine": lambda x, a, b: x * a + b, "leakyrelu": lambda x, a, b: F.where(x > 0, x, x * a),
    "scaledtanh": lambda x, a, b: F.tanh(x * b) * a,
    "hardsigmoid": lambda x, a, b: F.clamp(x * a + b, 0.0, 1.0) if hasattr(F, "clamp") else
    F.minimum(F.maximum(x * a + b, _scalar(x, 0)), _scalar(x, 1)),
    "softsign": lambda x, a, b: x / (F.abs(x) + 1.0), "softplus": lambda x, a, b: F.log(F.exp(x) + 1.0),
}


def _text(v):
    return v.decode() if isinstance(v, bytes) else v


@rule("RNN", 7, 14, 22)
def rnn(x, w, r, b=None, sequence_lens=None, initial_h=None, *, activation_alpha=None, activation_beta=None,
        activations=None, clip=None, direction="forward", hidden_size=None, layout=0):
    """h_t = f(x_t W^T + h_{t-1} R^T + Wb + Rb) per direction; steps past a sequence's length keep h and
    write zeros to Y. Returns (Y (T, D, B, H), Y_h (D, B, H)), batch-first with layout=1."""
    direction = _text(direction)
    if layout:
        x = F.permute(x, (1, 0, 2))
        if initial_h is not None:
            initial_h = F.permute(initial_h, (1, 0, 2))
    steps, batch = x.shape[0], x.shape[1]
    dirs = 2 if direction == "bidirectional" else 1
    hidden = w.shape[1]
    names = [_text(a).lower() for a in (activations or ["Tanh"] * dirs)]
    alphas = list(activation_alpha or [])
    betas = list(activation_beta or [])
    lens = np.full(batch, steps) if sequence_lens is None else np.asarray(_ints(sequence_lens))
    ys, finals = [], []
    for d in range(dirs):
        act = _RNN_ACTIVATIONS[names[d]]
        alpha = alphas[d] if d < len(alphas) else (0.01 if names[d] == "leakyrelu" else 1.0)
        beta = betas[d] if d < len(betas) else 0.0
        proj = F.matmul(x, w[d].mT)                                         # (T, B, H): all steps at once
        if b is not None:
            proj = proj + (b[d][:hidden] + b[d][hidden:])
        h = initial_h[d] if initial_h is not None else _const(np.zeros((batch, hidden), x.dtype), x)
        reverse = direction == "reverse" or d == 1
        outs = [None] * steps
        for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
            pre = proj[t] + F.matmul(h, r[d].mT)
            if clip is not None:
                pre = F.minimum(F.maximum(pre, _scalar(pre, -clip)), _scalar(pre, clip))
            h_new = act(pre, alpha, beta)
            live = lens > t
            if live.all():
                h = h_new
                outs[t] = h
            else:
                m = _const(live[:, None], x)
                h = F.where(m, h_new, h)
                outs[t] = F.where(m, h_new, _scalar(h_new, 0))
        ys.append(F.stack(outs, 0) if steps else _const(np.zeros((0, batch, hidden), x.dtype), x))
        finals.append(h)
    y = F.stack(ys, 1)                                                      # (T, D, B, H)
    y_h = F.stack(finals, 0)                                                # (D, B, H)
    if layout:
        y, y_h = F.permute(y, (2, 0, 1, 3)), F.permute(y_h, (1, 0, 2))
    return y, y_h


# ---------------------------------------------------------------------------------------------------------
# TfIdfVectorizer (integer tokens; string pools are outside our tensors)
# ---------------------------------------------------------------------------------------------------------
@rule("TfIdfVectorizer", 9)
def tf_idf_vectorizer(x, *, max_gram_length, max_skip_count, min_gram_length, mode, ngram_counts, ngram_indexes,
                      pool_int64s=None, pool_strings=None, weights=None):
    """Counts of the pooled n-grams (tokens `skip` apart, skip = 1 .. max_skip_count + 1) per row, weighted
    as TF, IDF or TFIDF. Unigrams are counted once, not once per skip distance."""
    if pool_int64s is None:
        raise ValueError("TfIdfVectorizer: string pools are not supported")
    mode = _text(mode)
    pool, starts = list(pool_int64s), list(ngram_counts) + [len(pool_int64s)]
    grams = {}
    for size, (lo, hi) in enumerate(zip(starts[:-1], starts[1:]), start=1):
        for j in range(lo, hi, size):
            grams[tuple(pool[j:j + size])] = ngram_indexes[len(grams)]
    prefixes = {g[:k] for g in grams for k in range(1, len(g) + 1)}
    a = _a(x)
    rows = a.reshape(1, -1) if a.ndim <= 1 else a
    width = max(ngram_indexes) + 1
    counts = np.zeros((rows.shape[0], width), np.float32)
    for r, row in enumerate(rows):
        smallest = min_gram_length
        for skip in range(1, max_skip_count + 2):
            for start in range(len(row)):
                gram = ()
                for k in range(max_gram_length):
                    pos = start + k * skip
                    if pos >= len(row):
                        break
                    gram = gram + (int(row[pos]),)
                    if gram not in prefixes:
                        break
                    if len(gram) >= smallest and gram in grams:
                        counts[r, grams[gram]] += 1
            if smallest == 1:
                smallest = 2
                if smallest > max_gram_length:
                    break
    w = np.ones(width, np.float32) if weights is None else np.asarray(weights, np.float32)
    if mode == "IDF":
        counts = (counts > 0) * w
    elif mode == "TFIDF":
        counts = counts * w
    out = counts.astype(np.float32)
    return _const(out.reshape(-1) if a.ndim <= 1 else out, x)
