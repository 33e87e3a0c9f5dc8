"""ONNX rules for autocompyute/ops/linalg.py: matrix products."""
from autocompyute.ops import linalg
from .registry import export_rule

# ---- export ----


@export_rule(linalg.MatMul)
def _export_matmul(g, op, inputs):
    return g.add_node("MatMul", g.inputs_as(op, inputs))


# ---- import ----
