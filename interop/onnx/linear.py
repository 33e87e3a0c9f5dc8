"""ONNX rules for autocompyute/ops/linear.py: Linear and Embedding."""
from autocompyute.ops import linear
from .registry import export_rule

# ---- export ----


@export_rule(linear.Linear)
def _export_linear(g, op, inputs):
    x, w = inputs[0], inputs[1]
    if op.inputs[0].ndim == 2:
        return g.add_node("Gemm", list(inputs), transB=1)
    y = g.add_node("MatMul", [x, g.add_node("Transpose", [w], perm=[1, 0])])  # (..., out)
    return g.add_node("Add", [y, inputs[2]]) if op.has_bias else y


@export_rule(linear.Embedding)
def _export_embedding(g, op, inputs):
    indices, weight = inputs
    return g.add_node("Gather", [weight, indices], axis=0)


# ---- import ----
