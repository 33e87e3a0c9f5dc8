"""ONNX rules for autocompyute/ops/binary.py: elementwise functions of two or three tensors, comparisons
and logical ops; on the import side also Mod, the variadic Sum and Mean, and the bit operations."""
import numpy as np

from autocompyute.ops import binary
from .registry import export_rule

# ---- export ----
_ARITHMETIC = {binary.Add: "Add", binary.Sub: "Sub", binary.Mul: "Mul", binary.Div: "Div", binary.Pow: "Pow",
               binary.Maximum: "Max", binary.Minimum: "Min"}
_COMPARE = {binary.Equal: "Equal", binary.Less: "Less", binary.LessEqual: "LessOrEqual",
            binary.Greater: "Greater", binary.GreaterEqual: "GreaterOrEqual"}
_LOGICAL = {binary.LogicalAnd: "And", binary.LogicalOr: "Or", binary.LogicalXor: "Xor", binary.LogicalNot: "Not"}


@export_rule(*_ARITHMETIC)
def _export_arithmetic(g, op, inputs):
    return g.add_node(_ARITHMETIC[type(op)], g.inputs_as(op, inputs))


@export_rule(binary.Where)
def _export_where(g, op, inputs):
    cond, a, b = inputs
    return g.add_node("Where", [cond] + g.inputs_as(op, inputs)[1:])


@export_rule(*_COMPARE, binary.NotEqual)
def _export_compare(g, op, inputs):
    common = np.result_type(*(t.dtype for t in op.inputs))
    inputs = g.inputs_as(op, inputs, common)
    if type(op) is binary.NotEqual:
        return g.add_node("Not", [g.add_node("Equal", inputs)])
    return g.add_node(_COMPARE[type(op)], inputs)


@export_rule(*_LOGICAL)
def _export_logical(g, op, inputs):
    return g.add_node(_LOGICAL[type(op)], g.inputs_as(op, inputs, np.bool_))


# ---- import ----

import autocompyute.functional as F  # noqa: E402
from autocompyute.tensor import Tensor  # noqa: E402

from ..errors import OnnxImportError  # noqa: E402
from ._import_util import check_broadcast, const, is_float, rule, values  # noqa: E402
from .registry import import_rule  # noqa: E402


def _same(a, b):
    """ONNX gives both inputs one type: other mixes are refused, as onnxruntime does, except floats of two widths
    (a float scalar constant against float data), cast to the first's. A broadcast result is checked against the
    tensor limit first (equal shapes make nothing larger: no check)."""
    if a.shape != b.shape:
        check_broadcast((a.shape, b.shape), np.result_type(a.dtype, b.dtype), "broadcast")
    if a.dtype != b.dtype:
        if not a.dtype.kind == b.dtype.kind == "f":
            raise OnnxImportError(f"inputs of types {a.dtype} and {b.dtype}: the op takes two of one type")
        b = F.cast(b, a.dtype)
    return a, b


@import_rule("Add", since=7)
def add(a, b):
    return F.add(*_same(a, b))


@import_rule("Sub", since=7)
def sub(a, b):
    return F.sub(*_same(a, b))


@import_rule("Mul", since=7)
def mul(a, b):
    return F.mul(*_same(a, b))


@import_rule("Div", since=7)
def div(a, b):
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":  # integer division truncates toward zero
        _same(a, b)
        xp, x, y = a.xp, a.data, b.data
        q = xp.floor_divide(x, y)
        q = q + ((q < 0) & (q * y != x))
        return Tensor(q.astype(xp.result_type(x, y)))
    return F.div(*_same(a, b))


@import_rule("Pow", since=7)
def pow_(a, b):
    if a.dtype.kind == "f" and b.dtype != a.dtype:
        b = F.cast(b, a.dtype)
    if a.dtype.kind in "iu":
        return Tensor((a.data ** b.data).astype(a.dtype))
    return F.pow(a, b)


def _fold(fn, xs):
    out = xs[0]
    for x in xs[1:]:
        out = fn(*_same(out, x))
    return out


@rule("Max", 6, 8, 12, 13)
def max_(*xs):
    return _fold(F.maximum, xs)


@rule("Min", 6, 8, 12, 13)
def min_(*xs):
    return _fold(F.minimum, xs)


@import_rule("Where", since=9)
def where(condition, a, b):
    if condition.shape != a.shape:  # (_same checks a against b)
        check_broadcast((condition.shape, a.shape, b.shape), np.result_type(a.dtype, b.dtype), "Where")
    return F.where(condition, *_same(a, b))


for _op, _fn, _versions in (("Equal", F.eq, (11,)), ("Less", F.lt, (7, 9, 13)), ("Greater", F.gt, (7, 9, 13)),
                            ("LessOrEqual", F.le, (12, 16)), ("GreaterOrEqual", F.ge, (12, 16)),
                            ("And", F.logical_and, (7,)), ("Or", F.logical_or, (7,)), ("Xor", F.logical_xor, (7,))):
    for _since in _versions:
        import_rule(_op, since=_since)(lambda a, b, _fn=_fn: _fn(*_same(a, b)))


@import_rule("Not", since=1)
def not_(x):
    return F.logical_not(x)


@rule("Mod", 10, 13)
def mod(a, b, *, fmod=0):
    """fmod=1: the remainder takes the dividend's sign (C fmod); fmod=0 (integers only): the divisor's."""
    x, y = values(a), values(b)
    if not is_float(a) and (np.asarray(y) == 0).any():
        raise OnnxImportError("Mod: integer division by zero")
    if is_float(a) and (a.requires_grad or b.requires_grad):  # y = a - b * k, k constant
        k = (np.trunc if fmod else np.floor)(x / y)
        return F.sub(a, F.mul(b, const(k.astype(a.dtype), a)))
    return const((np.fmod if fmod else np.mod)(x, y).astype(np.result_type(x, y)), a)


@rule("Sum", 1, 6, 8, 13)
def sum_(*xs): return _fold(F.add, xs)
@rule("Mean", 1, 6, 8, 13)
def mean_(*xs): return _fold(F.add, xs) * (1.0 / len(xs))


# ---- bits: no gradient ----
def _np_rule(op_type, versions, fn):
    rule(op_type, *versions)(lambda *xs: const(fn(*[values(x) for x in xs]), xs[0]))


_np_rule("BitwiseAnd", (18,), np.bitwise_and)
_np_rule("BitwiseOr", (18,), np.bitwise_or)
_np_rule("BitwiseXor", (18,), np.bitwise_xor)
_np_rule("BitwiseNot", (18,), np.bitwise_not)


@rule("BitShift", 11)
def bit_shift(x, y, *, direction="LEFT"):
    if direction not in ("LEFT", "RIGHT"):
        raise OnnxImportError(f"BitShift: direction {direction!r} is neither LEFT nor RIGHT")
    a, b = values(x), values(y).astype(values(x).dtype)
    return const(np.left_shift(a, b) if direction == "LEFT" else np.right_shift(a, b), x)


# ---- opset 1-6 forms (PyTorch-converted models): explicit broadcast/axis attributes, consumed_inputs ----
def _legacy_broadcast(a, b, broadcast, axis):
    """Before opset 7, B broadcasts to A only with broadcast=1, aligned at `axis` (default: trailing)."""
    if broadcast and axis is not None and b.ndim and b.ndim < a.ndim:
        ax = axis % a.ndim
        b = F.reshape(b, tuple(b.shape) + (1,) * (a.ndim - ax - b.ndim))
    return a, b


def _legacy_binary(fn):
    def legacy(a, b, *, broadcast=0, axis=None, consumed_inputs=None):
        return fn(*_legacy_broadcast(a, b, broadcast, axis))
    return legacy


for _op, _fn, _versions in (("Add", add, (1, 6)), ("Sub", sub, (1, 6)), ("Mul", mul, (1, 6)), ("Div", div, (1, 6)),
                            ("Pow", pow_, (1,))):
    for _since in _versions:
        import_rule(_op, since=_since)(_legacy_binary(_fn))


@import_rule("Max", since=1)
def max_1(*xs, consumed_inputs=None):
    return max_(*xs)


@import_rule("Min", since=1)
def min_1(*xs, consumed_inputs=None):
    return min_(*xs)

