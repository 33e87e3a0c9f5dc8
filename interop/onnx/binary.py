"""ONNX rules for autocompyute/ops/binary.py: elementwise functions of two or three tensors, comparisons
and logical ops."""
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

from .registry import import_rule  # noqa: E402


def _same(a, b):
    """ONNX gives both inputs one type; a float scalar constant against float data may differ in width."""
    if a.dtype != b.dtype and a.dtype.kind == b.dtype.kind == "f":
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


@import_rule("Max", since=8)
def max_(*xs):
    return _fold(F.maximum, xs)


@import_rule("Min", since=8)
def min_(*xs):
    return _fold(F.minimum, xs)


@import_rule("Where", since=9)
def where(condition, a, b):
    return F.where(condition, *_same(a, b))


for _op, _fn, _since in (("Equal", F.eq, 11), ("Less", F.lt, 9), ("Greater", F.gt, 9), ("LessOrEqual", F.le, 12),
                         ("GreaterOrEqual", F.ge, 12), ("And", F.logical_and, 7), ("Or", F.logical_or, 7),
                         ("Xor", F.logical_xor, 7)):
    import_rule(_op, since=_since)(lambda a, b, _fn=_fn: _fn(*_same(a, b)))


@import_rule("Not", since=1)
def not_(x):
    return F.logical_not(x)
