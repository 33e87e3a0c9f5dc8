"""ONNX rules for autocompyute/ops/reduce.py: reductions over dimensions and the softmax family."""
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

import autocompyute.functional as F  # noqa: E402

from .import_util import ints  # noqa: E402
from .registry import import_rule  # noqa: E402


def _reduce(fn, x, axes, keepdims, noop_with_empty_axes=0):
    if not axes:
        if noop_with_empty_axes:
            return x
        axes = None
    return fn(x, dim=None if axes is None else tuple(axes), keepdim=bool(keepdims))


def _reduce_rules(op_type, fn, input_since):
    """Register the attribute form (axes attribute) and, from `input_since`, the input form (axes input)."""
    @import_rule(op_type, since=1)
    def with_attribute(x, *, axes=None, keepdims=1):
        return _reduce(fn, x, axes, keepdims)

    @import_rule(op_type, since=input_since)
    def with_input(x, axes=None, *, keepdims=1, noop_with_empty_axes=0):
        return _reduce(fn, x, ints(axes), keepdims, noop_with_empty_axes)


def _l2(x, dim, keepdim):
    return F.sqrt(F.sum(x * x, dim, keepdim))


def _sum_square(x, dim, keepdim):
    return F.sum(x * x, dim, keepdim)


def _values(fn):
    """max/min with a dim give (values, indices): keep the values."""
    def reduce(x, dim, keepdim):
        if dim is None and keepdim:  # all axes, kept as size-1 dims
            return F.reshape(reduce(x, None, False), (1,) * x.ndim)
        out = fn(x, dim, keepdim)
        return out[0] if isinstance(out, tuple) else out
    return reduce


for _op, _fn, _since in (("ReduceMean", F.mean, 18), ("ReduceSum", F.sum, 13), ("ReduceMax", _values(F.max), 18),
                         ("ReduceMin", _values(F.min), 18), ("ReduceProd", F.prod, 18), ("ReduceL2", _l2, 18),
                         ("ReduceSumSquare", _sum_square, 18)):
    _reduce_rules(_op, _fn, _since)


def _coerced(fn, x, axis):
    """Opsets before 13: the input is seen as 2-D (dims before axis, dims from axis) for the softmax."""
    shape = x.shape
    axis = axis % x.ndim if x.ndim else 0
    rows = 1
    for d in shape[:axis]:
        rows *= d
    return fn(F.reshape(x, (rows, -1)), 1).reshape(shape)


@import_rule("Softmax", since=1)
def softmax_1(x, *, axis=1):
    return _coerced(F.softmax, x, axis)


@import_rule("Softmax", since=13)
def softmax_13(x, *, axis=-1):
    return F.softmax(x, axis)


@import_rule("LogSoftmax", since=1)
def log_softmax_1(x, *, axis=1):
    return _coerced(F.log_softmax, x, axis)


@import_rule("LogSoftmax", since=13)
def log_softmax_13(x, *, axis=-1):
    return F.log_softmax(x, axis)


def _arg(fn, x, axis, keepdims, select_last_index):
    if select_last_index:
        n = x.shape[axis]
        idx = fn(x[(slice(None),) * (axis % x.ndim) + (slice(None, None, -1),)], axis, bool(keepdims))
        return (n - 1) - idx
    return fn(x, axis, bool(keepdims))


@import_rule("ArgMax", since=1)
def argmax(x, *, axis=0, keepdims=1, select_last_index=0):
    return _arg(F.argmax, x, axis, keepdims, select_last_index)


@import_rule("ArgMin", since=1)
def argmin(x, *, axis=0, keepdims=1, select_last_index=0):
    return _arg(F.argmin, x, axis, keepdims, select_last_index)


# ---- export (continued) ----
import numpy as np  # noqa: E402

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
