"""ONNX rules for autocompyute/ops/reduce.py: reductions over dimensions, the softmax family, ArgMax/ArgMin,
TopK and the cumulative sums and products (CumSum, CumProd)."""
import numpy as np

from autocompyute.ops import reduce
from .registry import export_rule

# ---- export ----
_REDUCE = {reduce.Sum: "ReduceSum", reduce.Mean: "ReduceMean"}


@export_rule(*_REDUCE)
def _export_reduce(g, op, inputs):
    (x,) = g.inputs_as(op, inputs)
    if not op.axes:  # a 0-d input: nothing to reduce
        return g.add_node("Identity", [x])
    return g.reduce(_REDUCE[type(op)], x, op.axes, op.keepdim)


# ---- import ----

import math  # noqa: E402

import autocompyute.functional as F  # noqa: E402
from autocompyute import backends  # noqa: E402
from autocompyute.ops.onnx_ops import gather_map  # noqa: E402
from autocompyute.tensor import Tensor  # noqa: E402

from ._import_util import apply_movement, const, flat_positions, ints, rule, scalar_like, values  # noqa: E402
from ._import_util import axis as wrap_axis, is_float, sorted_axes  # noqa: E402
from ..errors import OnnxImportError  # noqa: E402
from .registry import import_rule  # noqa: E402


def _reduce_axes(x, axes, noop_with_empty_axes):
    """The sorted, non-negative axes to reduce, or None for "no reduction" (empty axes, noop_with_empty_axes)."""
    if isinstance(axes, Tensor):
        axes = ints(axes)
    if axes is None or len(axes) == 0:
        return None if noop_with_empty_axes else tuple(range(x.ndim))
    return sorted_axes(axes, x.ndim)


def _reduction(op_type, fn, attr_versions, input_versions):
    """Register fn(x, axes: tuple, keepdims: bool) for ReduceX: axes as an attribute at `attr_versions`, as an
    input (with noop_with_empty_axes) at `input_versions`."""
    def with_attribute(x, *, axes=None, keepdims=1):
        return fn(x, _reduce_axes(x, axes, 0), keepdims == 1)  # (a switch: the importer refuses other values)

    def with_input(x, axes=None, *, keepdims=1, noop_with_empty_axes=0):
        dims = _reduce_axes(x, axes, noop_with_empty_axes)
        return x if dims is None else fn(x, dims, keepdims == 1)

    for since in attr_versions:
        import_rule(op_type, since=since)(with_attribute)
    for since in input_versions:
        import_rule(op_type, since=since)(with_input)


def _on_values(npfn):
    """Integer and boolean reductions run on the values (no gradient) and keep the input's dtype."""
    def reduce(x, axes, keepdims):
        return const(npfn(values(x), axis=axes, keepdims=keepdims).astype(x.dtype), x)
    return reduce


def _floats_or(engine, npfn):
    on_values = _on_values(npfn)
    return lambda x, axes, keepdims: engine(x, axes, keepdims) if is_float(x) else on_values(x, axes, keepdims)


def _extreme(x, axes, keepdims, largest):
    """max/min over `axes`: the engine's Op for non-empty float input; otherwise (integers, booleans, empty sets)
    a gather of the first extreme position, or the identity (-inf/inf, False/True) of an empty set."""
    if is_float(x) and x.numel():
        fn = F.max if largest else F.min
        if len(axes) == x.ndim:  # all axes: one value
            y = fn(x)
            return F.reshape(y, (1,) * x.ndim) if keepdims else y
        y = x
        for a in reversed(axes):  # one axis at a time (the engine's dim-wise max takes one axis)
            y = fn(y, a, keepdim=keepdims)[0]
        return y
    rest = [d for d in range(x.ndim) if d not in axes]
    kept = [1 if d in axes else n for d, n in enumerate(x.shape)]
    reduced = math.prod(x.shape[d] for d in axes)  # (a size, not -1: the other dims may hold none)
    a = np.transpose(values(x), rest + list(axes)).reshape([x.shape[d] for d in rest] + [reduced])
    if a.shape[-1] == 0:
        identity = backends.extreme_identity(x.dtype, largest)
        out = const(np.full([x.shape[d] for d in rest], identity, dtype=x.dtype), x)
        return F.reshape(out, kept) if keepdims else out
    p = np.transpose(flat_positions(x), rest + list(axes)).reshape(a.shape)
    k = (np.argmax if largest else np.argmin)(a, axis=-1)[..., None]
    chosen = np.take_along_axis(p, k, axis=-1)[..., 0]
    if keepdims:
        chosen = chosen.reshape(kept)
    if not is_float(x):
        return const(values(x).reshape(-1)[chosen], x)
    return gather_map([x], chosen)


def _sum(x, axes, keepdims):
    return F.sum(x, axes, keepdim=keepdims) if is_float(x) else _on_values(np.sum)(x, axes, keepdims)


def _logsumexp(x, axes, keepdims):
    m = np.max(values(x), axis=axes, keepdims=True) if x.numel() else np.zeros([1] * x.ndim, x.dtype)
    m = np.where(np.isfinite(m), m, 0).astype(x.dtype)
    s = F.log(F.sum(F.exp(x - const(m, x)), axes, keepdim=True)) + const(m, x)
    return s if keepdims else F.squeeze(s, axes)


def _l2(x, axes, keepdims):
    return F.sqrt(_sum(x * x, axes, keepdims)) if is_float(x) else const(
        np.sqrt((values(x) ** 2).sum(axis=axes, keepdims=keepdims)).astype(x.dtype), x)


def _abs(x):
    return F.abs(x) if is_float(x) else const(np.abs(values(x)), x)


_reduction("ReduceSum", _sum, (1, 11), (13,))
_reduction("ReduceMean", _floats_or(lambda x, ax, k: F.mean(x, ax, keepdim=k), np.mean), (1, 11, 13), (18,))
_reduction("ReduceMax", lambda x, ax, k: _extreme(x, ax, k, True), (1, 11, 12, 13), (18, 20))
_reduction("ReduceMin", lambda x, ax, k: _extreme(x, ax, k, False), (1, 11, 12, 13), (18, 20))
_reduction("ReduceProd", _floats_or(lambda x, ax, k: F.prod(x, ax, keepdim=k), np.prod), (1, 11, 13), (18,))
_reduction("ReduceL1", lambda x, ax, k: _sum(_abs(x), ax, k), (1, 11, 13), (18,))
_reduction("ReduceL2", _l2, (1, 11, 13), (18,))
_reduction("ReduceSumSquare", lambda x, ax, k: _sum(x * x, ax, k), (1, 11, 13), (18,))


def _log_sum(x, axes, keepdims):  # integers: computed in floating point, truncated back (as onnxruntime)
    return F.log(_sum(x, axes, keepdims)) if is_float(x) else const(
        np.log(values(x).sum(axis=axes, keepdims=keepdims)).astype(x.dtype), x)


_reduction("ReduceLogSum", _log_sum, (1, 11, 13), (18,))
_reduction("ReduceLogSumExp", _logsumexp, (1, 11, 13), (18,))


# ---- the softmax family: before opset 13 the input is seen as 2-D (dims before axis, dims from axis) ----
def _coerced(fn, x, axis):
    shape = x.shape
    axis = wrap_axis(axis, x.ndim)
    return F.reshape(fn(F.reshape(x, (math.prod(shape[:axis]), -1)), 1), shape)


def _hardmax(x, axis):
    a = values(x)
    out = np.zeros_like(a)
    np.put_along_axis(out, np.expand_dims(np.argmax(a, axis=axis), axis), 1, axis=axis)
    return const(out, x)


for _op, _fn in (("Softmax", F.softmax), ("LogSoftmax", F.log_softmax), ("Hardmax", _hardmax)):
    for _since in (1, 11):
        import_rule(_op, since=_since)(lambda x, *, axis=1, _fn=_fn: _coerced(_fn, x, axis))
    import_rule(_op, since=13)(lambda x, *, axis=-1, _fn=_fn: _fn(x, wrap_axis(axis, x.ndim)))


def _arg_rule(largest):
    def arg(x, *, axis=0, keepdims=1, select_last_index=0):
        """Indices only (no gradient), for every dtype, on x's device."""
        xp, a = x.xp, x.data
        axis = wrap_axis(axis, a.ndim)
        if select_last_index:
            a = xp.flip(a, axis)
        i = (xp.argmax if largest else xp.argmin)(a, axis=axis)
        if select_last_index:
            i = a.shape[axis] - 1 - i
        if keepdims == 1:
            i = xp.expand_dims(i, axis)
        return Tensor(xp.asarray(i, dtype=xp.int64))
    return arg


for _op, _largest in (("ArgMax", True), ("ArgMin", False)):
    for _since in (1, 11, 12, 13):
        import_rule(_op, since=_since)(_arg_rule(_largest))


@rule("TopK", 10, 11)
def top_k(x, k, *, axis=-1, largest=1, sorted=1):  # noqa: A002
    kk = int(values(k).reshape(-1)[0])
    a = values(x)
    axis = wrap_axis(axis, a.ndim)
    if not 0 <= kk <= a.shape[axis]:
        raise OnnxImportError(f"TopK: k={kk} for an axis of length {a.shape[axis]}")
    # stable order; among equal values the smaller index comes first
    rank = np.unique(a, return_inverse=True)[1].reshape(a.shape).astype(np.int64)  # any dtype, unsigned too
    order = np.argsort(-rank if largest else rank, axis=axis, kind="stable")
    idx = np.take(order, np.arange(kk), axis=axis)
    top = apply_movement(x, lambda v: np.take_along_axis(v, idx, axis=axis))
    return top, const(idx.astype(np.int64), x)


rule("TopK", 1)(lambda x, *, axis=-1, k: top_k(x, const(np.array([k])), axis=axis))


# ---- CumSum, CumProd ----
def _cumulative(x, axis, exclusive, reverse, fn):
    ax = wrap_axis(values(axis).reshape(-1)[0], x.ndim)
    if reverse:
        x = apply_movement(x, lambda a: np.flip(a, ax))
    y = fn(x, ax)
    if exclusive:  # shift by one along the axis, a zero (or one) first
        n = x.shape[ax]
        pos = flat_positions(y)
        shifted = np.concatenate([np.full_like(np.take(pos, [0], axis=ax), y.numel()),
                                  np.take(pos, np.arange(n - 1), axis=ax)], axis=ax)
        pad = 0 if fn is _cumsum else 1
        y = gather_map([y, scalar_like(y, pad)], shifted) if is_float(y) else const(
            np.append(values(y).reshape(-1), np.asarray(pad, y.dtype))[shifted], y)
    if reverse:
        y = apply_movement(y, lambda a: np.flip(a, ax))
    return y


def _cumsum(x, ax):
    if not is_float(x):
        return const(np.cumsum(values(x), axis=ax).astype(x.dtype), x)
    return F.cumsum(x, ax)


def _cumprod(x, ax):
    if not is_float(x):
        return const(np.cumprod(values(x), axis=ax).astype(x.dtype), x)
    # y_i = prod_{j <= i} x_j as a product of gathered prefixes (exact gradient, zeros allowed)
    n = x.shape[ax]
    pos = flat_positions(x)
    out = None
    for j in range(n):
        term = np.take(pos, [j], axis=ax)
        take = np.where(np.arange(n).reshape([-1 if d == ax else 1 for d in range(x.ndim)]) >= j,
                        np.broadcast_to(term, pos.shape), x.numel())
        factor = gather_map([x, scalar_like(x, 1)], take)
        out = factor if out is None else out * factor
    return out


@rule("CumSum", 11, 14)
def cum_sum(x, axis, *, exclusive=0, reverse=0):
    return _cumulative(x, axis, exclusive, reverse, _cumsum)


@rule("CumProd", 26)
def cum_prod(x, axis, *, exclusive=0, reverse=0):
    return _cumulative(x, axis, exclusive, reverse, _cumprod)


# ---- export (continued) ----

from .builder import BatchDim  # noqa: E402


def _count(g, op, axes, correction=0):
    """The number of reduced elements minus `correction`, as a scalar of x's dtype (read from the shape at
    run time when a reduced dim follows the batch size)."""
    x = op.inputs[0]
    dims = [g.dims(x)[a] for a in axes]
    if not any(isinstance(d, BatchDim) for d in dims):
        return g.const(max(int(np.prod(dims)) - correction, 0), x.dtype)
    n = g.dim_value(dims[0])
    for d in dims[1:]:
        n = g.add_node("Mul", [n, g.dim_value(d)])
    if correction:
        n = g.add_node("Sub", [n, g.ints([correction])])
    return g.cast(g.squeeze(n, [0]), x.dtype)


def _variance(g, op, x, keepdim):
    mean = g.reduce("ReduceMean", x, op.axes, True)
    diff = g.add_node("Sub", [x, mean])
    total = g.reduce("ReduceSum", g.add_node("Mul", [diff, diff]), op.axes, keepdim)
    return g.add_node("Div", [total, _count(g, op, op.axes, op.correction)])


@export_rule(reduce.Var)
def _export_var(g, op, inputs):
    return _variance(g, op, inputs[0], op.keepdim)


@export_rule(reduce.Std)
def _export_std(g, op, inputs):
    return g.add_node("Sqrt", [_variance(g, op, inputs[0], op.keepdim)])


@export_rule(reduce.Max, reduce.Min)
def _export_extreme(g, op, inputs):
    kind = "ReduceMax" if type(op) is reduce.Max else "ReduceMin"
    return g.reduce(kind, inputs[0], None, False)


@export_rule(reduce.MaxDim, reduce.MinDim)
def _export_extreme_dim(g, op, inputs):
    (x,) = inputs
    big = type(op) is reduce.MaxDim
    values = g.reduce("ReduceMax" if big else "ReduceMin", x, [op.axis], op.keepdim)
    indices = g.add_node("ArgMax" if big else "ArgMin", [x], axis=op.axis, keepdims=int(op.keepdim))
    return [values, indices]


@export_rule(reduce.ArgMax, reduce.ArgMin)
def _export_arg_extreme(g, op, inputs):
    (x,) = inputs
    kind = "ArgMax" if type(op) is reduce.ArgMax else "ArgMin"
    if op.axis is not None:
        return g.add_node(kind, [x], axis=op.axis, keepdims=int(op.keepdim))
    i = g.add_node(kind, [g.add_node("Reshape", [x, g.ints([-1])])], axis=0, keepdims=0)
    return g.add_node("Reshape", [i, g.ints([1] * op.inputs[0].ndim)]) if op.keepdim else i


@export_rule(reduce.Prod)
def _export_prod(g, op, inputs):
    (x,) = g.inputs_as(op, inputs)
    return g.reduce("ReduceProd", x, op.axes, op.keepdim) if op.axes else g.add_node("Identity", [x])


@export_rule(reduce.LogSumExp)
def _export_logsumexp(g, op, inputs):
    (x,) = inputs  # max-shifted, like the engine: exact for large inputs at every opset
    m = g.reduce("ReduceMax", x, op.axes, True)
    s = g.reduce("ReduceSum", g.add_node("Exp", [g.add_node("Sub", [x, m])]), op.axes, True)
    y = g.add_node("Add", [g.add_node("Log", [s]), m])
    return y if op.keepdim else g.squeeze(y, op.axes)


@export_rule(reduce.Softmax, reduce.LogSoftmax)
def _export_softmax(g, op, inputs):
    kind = "Softmax" if type(op) is reduce.Softmax else "LogSoftmax"
    return g.add_node(kind, inputs, axis=op.axis)


@export_rule(reduce.Cumsum)
def _export_cumsum(g, op, inputs):
    return g.add_node("CumSum", [inputs[0], g.const(np.int64(op.axis))])
