"""ONNX rules for autocompyute/ops/onnx_ops.py: GatherMap, Einsum, Pointwise."""
import numpy as np

from autocompyute.ops import onnx_ops
from .registry import export_rule

# ---- export ----


@export_rule(onnx_ops.Einsum)
def _export_einsum(g, op, inputs):
    return g.add_node("Einsum", g.inputs_as(op, inputs), equation=op.equation.replace(" ", ""))


@export_rule(onnx_ops.Pointwise)
def _export_pointwise(g, op, inputs):
    return g.add_node(op.fn.capitalize(), inputs)


@export_rule(onnx_ops.GatherMap)
def _export_gather_map(g, op, inputs):
    flat = [g.add_node("Reshape", [x, g.ints([-1])]) for x in inputs]
    flat = flat[0] if len(flat) == 1 else g.add_node("Concat", flat, axis=0)
    y = g.add_node("Gather", [flat, g.const(np.asarray(op.index, np.int64))], axis=0)
    if op.weight is None:
        return y
    weight = g.const(np.asarray(op.weight, op.inputs[0].dtype))
    return g.reduce("ReduceSum", g.add_node("Mul", [y, weight]), [-1], False)



@export_rule(onnx_ops.Det)
def _export_det(g, op, inputs):
    return g.add_node("Det", inputs)


@export_rule(onnx_ops.DFT)
def _export_dft(g, op, inputs):
    """DFT with its axis as an attribute (opset 17-19) or an input (20+)."""
    from ..errors import ExportError
    if g.opset < 17:
        raise ExportError("DFT needs opset >= 17")
    n = g.const(np.asarray(op.n, np.int64))
    flags = dict(inverse=int(op.inverse), onesided=int(op.onesided))
    if g.opset < 20:
        return g.add_node("DFT", [inputs[0], n], axis=op.axis, **flags)
    return g.add_node("DFT", [inputs[0], n, g.const(np.asarray(op.axis, np.int64))], **flags)

# ---- import ----
