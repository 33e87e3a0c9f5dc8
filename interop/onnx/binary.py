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
