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
