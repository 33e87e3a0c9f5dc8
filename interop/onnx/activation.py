"""ONNX rules for autocompyute/ops/activation.py."""
from autocompyute.ops import activation
from .registry import export_rule

# ---- export ----


@export_rule(activation.Elu)
def _export_elu(g, op, inputs):
    return g.add_node("Elu", inputs, alpha=float(op.alpha))


# ---- import ----
