"""ONNX rules for autocompyute/ops/movement.py: reshapes, transposes, broadcasts, joins and splits."""
from autocompyute.ops import movement
from .registry import export_rule

# ---- export ----


def batch_aware(rule):
    """Mark an export rule that writes batch-dependent attributes itself (from g.dims / g.out_dims), so the
    exporter lets an attribute differ between the two traces of a symbolic-batch export."""
    rule.batch_aware = True
    return rule


@export_rule(movement.Reshape)
@batch_aware
def _export_reshape(g, op, inputs):
    x = op.inputs[0]
    return g.add_node("Reshape", [inputs[0], g.reshape_target(g.dims(x), g.out_dims(op))])


@export_rule(movement.Flatten)
def _export_flatten(g, op, inputs):
    x = op.inputs[0]
    if op.start_dim == 1 and op.end_dim == x.ndim - 1:
        return g.add_node("Flatten", inputs, axis=1)
    return g.add_node("Reshape", [inputs[0], g.reshape_target(g.dims(x), g.out_dims(op))])


@export_rule(movement.Squeeze)
def _export_squeeze(g, op, inputs):
    axes = [a for a in op.axes if op.inputs[0].shape[a] == 1]
    return g.squeeze(inputs[0], axes) if axes else g.add_node("Identity", inputs)


@export_rule(movement.Unsqueeze)
def _export_unsqueeze(g, op, inputs):
    return g.unsqueeze(inputs[0], [op.axis])


@export_rule(movement.Permute)
def _export_permute(g, op, inputs):
    return g.add_node("Transpose", inputs, perm=list(op.dims))


@export_rule(movement.Expand)
@batch_aware
def _export_expand(g, op, inputs):
    x = op.inputs[0]
    return g.add_node("Expand", [inputs[0], g.expand_target(g.dims(x), g.out_dims(op))])


@export_rule(movement.Cat)
def _export_cat(g, op, inputs):
    return g.add_node("Concat", g.inputs_as(op, inputs), axis=op.axis)


@export_rule(movement.Stack)
def _export_stack(g, op, inputs):
    return g.add_node("Concat", [g.unsqueeze(x, [op.axis]) for x in g.inputs_as(op, inputs)], axis=op.axis)


@export_rule(movement.Split)
def _export_split(g, op, inputs):
    if len(op.sizes) == 1:
        return [g.add_node("Identity", inputs)]
    return g.split(inputs[0], list(op.sizes), op.axis)


# ---- import ----
import numpy as np  # noqa: E402

import autocompyute.functional as F  # noqa: E402

from ._import_util import check_alloc, ints  # noqa: E402
from .registry import import_rule  # noqa: E402


@import_rule("Reshape", since=5)
def reshape(x, shape, *, allowzero=0):
    shape = ints(shape)
    if not allowzero:  # 0 copies the input's dimension
        shape = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return F.reshape(x, tuple(shape))


@import_rule("Flatten", since=1)
def flatten(x, *, axis=1):
    axis = axis % x.ndim if x.ndim else 0
    rows = int(np.prod(x.shape[:axis], dtype=np.int64))
    return F.reshape(x, (rows, int(np.prod(x.shape[axis:], dtype=np.int64))))


@import_rule("Transpose", since=1)
def transpose(x, *, perm=None):
    return F.permute(x, tuple(perm) if perm is not None else tuple(reversed(range(x.ndim))))


@import_rule("Concat", since=4)
def concat(*xs, axis):
    return F.cat(list(xs), axis)


def _unsqueeze(x, axes):
    rank = x.ndim + len(axes)
    for a in sorted(a % rank for a in axes):
        x = F.unsqueeze(x, a)
    return x


def _squeeze(x, axes):
    if axes is None:
        axes = [i for i, d in enumerate(x.shape) if d == 1]
    drop = {a % x.ndim for a in axes}
    return F.reshape(x, tuple(d for i, d in enumerate(x.shape) if i not in drop))


@import_rule("Unsqueeze", since=1)
def unsqueeze_1(x, *, axes):
    return _unsqueeze(x, axes)


@import_rule("Unsqueeze", since=13)
def unsqueeze_13(x, axes):
    return _unsqueeze(x, ints(axes))


@import_rule("Squeeze", since=1)
def squeeze_1(x, *, axes=None):
    return _squeeze(x, axes)


@import_rule("Squeeze", since=13)
def squeeze_13(x, axes=None):
    return _squeeze(x, ints(axes))


def _split(x, sizes, axis, n_outputs, num_outputs=None):
    axis = axis % x.ndim
    length = x.shape[axis]
    if sizes is None:
        n = num_outputs or n_outputs
        chunk = -(-length // n)  # the last part is smaller when the length does not divide
        sizes = [min(chunk, length - i * chunk) for i in range(n)]
    return tuple(F.split(x, list(sizes), axis))


@import_rule("Split", since=2)
def split_2(x, *, axis=0, split=None, ctx):
    return _split(x, split, axis, len(ctx.node.outputs))


@import_rule("Split", since=13)
def split_13(x, split=None, *, axis=0, num_outputs=None, ctx):
    return _split(x, ints(split), axis, len(ctx.node.outputs), num_outputs)


@import_rule("Expand", since=8)
def expand(x, shape):
    target = tuple(np.broadcast_shapes(x.shape, tuple(ints(shape))))
    check_alloc(target, x.dtype, "Expand")
    return F.expand(x, target)


@import_rule("Tile", since=13)
@import_rule("Tile", since=6)
def tile(x, repeats):
    reps = ints(repeats)
    out_shape = tuple(d * r for d, r in zip(x.shape, reps))
    check_alloc(out_shape, x.dtype, "Tile")
    spread = tuple(v for d in x.shape for v in (1, d))
    y = F.expand(F.reshape(x, spread), tuple(v for r, d in zip(reps, x.shape) for v in (r, d)))
    return F.reshape(y, out_shape)


# ---- export (continued) ----
import numpy as np  # noqa: E402

from .builder import INT64_MAX  # noqa: E402
from ..errors import ExportError  # noqa: E402

_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


@export_rule(movement.Pad)
def _export_pad(g, op, inputs):
    x = inputs[0]
    widths = op.widths
    if op.mode == "circular" and g.opset < 19:  # "wrap" arrived in opset 19: concatenate the wrapped slices
        for axis, (before, after) in enumerate(widths):
            if before or after:
                parts = []
                if before:
                    parts.append(g.add_node("Slice", [x, g.ints([-before]), g.ints([INT64_MAX]), g.ints([axis])]))
                parts.append(x)
                if after:
                    parts.append(g.add_node("Slice", [x, g.ints([0]), g.ints([after]), g.ints([axis])]))
                x = g.add_node("Concat", parts, axis=axis)
        return x
    pads = g.ints([b for b, _ in widths] + [a for _, a in widths])
    value = g.const(op.value, op.inputs[0].dtype) if op.mode == "constant" else ""
    return g.add_node("Pad", [x, pads, value], mode=_PAD_MODES[op.mode])


@export_rule(movement.Flip)
def _export_flip(g, op, inputs):
    n = len(op.axes)
    return g.add_node("Slice", [inputs[0], g.ints([-1] * n), g.ints([np.iinfo(np.int64).min] * n),
                                g.ints(op.axes), g.ints([-1] * n)])


@export_rule(movement.Tile)
def _export_tile(g, op, inputs):
    x, extra = inputs[0], len(op.reps) - op.inputs[0].ndim
    if extra > 0:
        x = g.unsqueeze(x, list(range(extra)))
    return g.add_node("Tile", [x, g.ints(op.reps)])


@export_rule(movement.Tril, movement.Triu)
def _export_triangle(g, op, inputs):
    if g.opset < 14:
        raise ExportError("tril/triu needs opset >= 14 (Trilu)")
    upper = int(type(op) is movement.Triu)
    return g.add_node("Trilu", [inputs[0], g.const(np.int64(op.diagonal))], upper=upper)
