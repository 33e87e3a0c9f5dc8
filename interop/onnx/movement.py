"""ONNX rules for autocompyute/ops/movement.py: reshapes, transposes, broadcasts, joins and splits, padding and
flips. The import side also holds ONNX's other movements: DepthToSpace, SpaceToDepth, ReverseSequence,
CenterCropPad, Pad (constant, reflect, edge, wrap) and EyeLike."""
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
    return _export_reshape(g, op, inputs)


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
from autocompyute.ops.onnx_ops import gather_map  # noqa: E402

from ._import_util import apply_movement, check_alloc, const, flat_positions, gather_positions  # noqa: E402
from ._import_util import ints, is_float, rule, scalar_like, values  # noqa: E402
from ._import_util import axes as wrap_axes, axis as wrap_axis, distinct_axes  # noqa: E402
from ..errors import OnnxImportError  # noqa: E402
from .registry import import_rule  # noqa: E402


@import_rule("Reshape", since=5)
def reshape(x, shape, *, allowzero=0):
    shape = ints(shape)
    if not allowzero:  # 0 copies the input's dimension
        shape = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return F.reshape(x, tuple(shape))


@import_rule("Flatten", since=1)
def flatten(x, *, axis=1):
    if not -x.ndim <= axis <= x.ndim:                                     # a cut between dims: -rank..rank
        raise OnnxImportError(f"Flatten: axis {axis} is out of range for an input of rank {x.ndim}")
    axis = axis + x.ndim if axis < 0 else axis
    rows = int(np.prod(x.shape[:axis], dtype=np.int64))
    return F.reshape(x, (rows, int(np.prod(x.shape[axis:], dtype=np.int64))))


@import_rule("Transpose", since=1)
def transpose(x, *, perm=None):
    return F.permute(x, tuple(perm) if perm is not None else tuple(reversed(range(x.ndim))))


@import_rule("Concat", since=4)
def concat(*xs, axis):
    shape = list(xs[0].shape)
    if shape:  # (a scalar input: the op says what is wrong)
        a = wrap_axis(axis, len(shape))
        shape[a] = sum(x.shape[a] for x in xs if x.ndim > a)
        check_alloc(shape, xs[0].dtype, "Concat")
    return F.cat(list(xs), axis)


def _unsqueeze(x, axes):
    rank = x.ndim + len(axes)
    for a in sorted(distinct_axes(axes, rank)):
        x = F.unsqueeze(x, a)
    return x


def _squeeze(x, axes):
    if axes is None:
        axes = [i for i, d in enumerate(x.shape) if d == 1]
    drop = set(wrap_axes(axes, x.ndim))
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
    axis = wrap_axis(axis, x.ndim)
    length = x.shape[axis]
    if sizes is not None and (len(sizes) != n_outputs or sum(sizes) != length or min(sizes, default=0) < 0):
        raise OnnxImportError(f"Split: sizes {list(sizes)} must be {n_outputs} non-negative parts of {length}")
    if sizes is None:
        n = num_outputs or n_outputs
        if n != n_outputs or n < 1:
            raise OnnxImportError(f"Split: num_outputs={n} but the node has {n_outputs} outputs")
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
    if len(reps) != x.ndim or any(r < 0 for r in reps):
        raise OnnxImportError(f"Tile: repeats {reps} must be {x.ndim} non-negative counts, one per dim of {x.shape}")
    out_shape = tuple(d * r for d, r in zip(x.shape, reps))
    check_alloc(out_shape, x.dtype, "Tile")
    spread = tuple(v for d in x.shape for v in (1, d))
    y = F.expand(F.reshape(x, spread), tuple(v for r, d in zip(reps, x.shape) for v in (r, d)))
    return F.reshape(y, out_shape)


def _blocksize(what, x, b):
    if b < 1 or x.ndim != 4:
        raise OnnxImportError(f"{what}: blocksize {b} must be at least 1 and the input (N, C, H, W), got {x.shape}")
    return b


@rule("DepthToSpace", 1, 11, 13)
def depth_to_space(x, *, blocksize, mode="DCR"):
    b = _blocksize("DepthToSpace", x, blocksize)
    if mode not in ("DCR", "CRD"):
        raise OnnxImportError(f"DepthToSpace: mode {mode!r} is neither DCR nor CRD")

    def fn(a):
        n, c, h, w = a.shape
        if mode == "DCR":
            t = a.reshape(n, b, b, c // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2)
        else:
            t = a.reshape(n, c // (b * b), b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
        return t.reshape(n, c // (b * b), h * b, w * b)
    return apply_movement(x, fn)


@rule("SpaceToDepth", 1, 13, 28)
def space_to_depth(x, *, blocksize, mode="DCR"):
    b = _blocksize("SpaceToDepth", x, blocksize)

    def fn(a):
        n, c, h, w = a.shape
        t = a.reshape(n, c, h // b, b, w // b, b)
        t = t.transpose(0, 3, 5, 1, 2, 4) if mode == "DCR" else t.transpose(0, 1, 3, 5, 2, 4)
        return t.reshape(n, c * b * b, h // b, w // b)
    return apply_movement(x, fn)


@rule("ReverseSequence", 10)
def reverse_sequence(x, sequence_lens, *, batch_axis=1, time_axis=0):
    lens = ints(sequence_lens)
    if {batch_axis, time_axis} != {0, 1} or x.ndim < 2 or len(lens) != x.shape[batch_axis] \
            or any(not 0 <= n <= x.shape[time_axis] for n in lens):
        raise OnnxImportError(f"ReverseSequence: lengths {lens} (batch_axis {batch_axis}, time_axis {time_axis}) "
                              f"do not fit an input of shape {x.shape}")

    def fn(a):
        out = a.copy()
        for b, n in enumerate(lens):
            src = [slice(None)] * a.ndim
            src[batch_axis], src[time_axis] = b, slice(0, n)
            out[tuple(src)] = np.flip(a[tuple(src)], axis=time_axis - (batch_axis < time_axis))
        return out
    return apply_movement(x, fn)


@rule("CenterCropPad", 18)
def center_crop_pad(x, shape, *, axes=None):
    """Crop the centre (its start rounded down) or pad with zeros around it (the extra at the end): a Pad with
    negative pads where it crops."""
    axes = list(range(x.ndim)) if axes is None else wrap_axes(axes, x.ndim)
    begins, ends = [], []
    for ax, size in zip(axes, ints(shape)):
        grow = size - x.shape[ax]
        begin = grow // 2 if grow >= 0 else -(-grow // 2)
        begins.append(begin)
        ends.append(grow - begin)
    return _pad(x, begins + ends, "constant", None, axes)


# ---- Pad: constant, reflect, edge and wrap; negative pads crop ----
def _pad(x, pads, mode, value, axes=None):
    axes = list(range(x.ndim)) if axes is None else distinct_axes(axes, x.ndim)
    k = len(axes)
    if len(pads) != 2 * k:
        raise OnnxImportError(f"Pad: {len(pads)} pads for {k} axes of an input of shape {x.shape} (need {2 * k})")
    if mode not in ("constant", "reflect", "edge", "wrap"):
        raise OnnxImportError(f"Pad: unknown mode {mode!r}")
    widths = [[0, 0] for _ in range(x.ndim)]
    for i, ax in enumerate(axes):
        widths[ax] = [pads[i], pads[i + k]]
    check_alloc(tuple(d + b + e for d, (b, e) in zip(x.shape, widths)), np.int64, "Pad")
    pos = flat_positions(x)
    crop = tuple(slice(max(-b, 0), pos.shape[d] - max(-e, 0)) for d, (b, e) in enumerate(widths))
    pos = pos[crop]
    grow = [(max(b, 0), max(e, 0)) for b, e in widths]
    n = x.numel()
    if mode == "constant":
        pos = np.pad(pos, grow, constant_values=n)
        if value is None:
            value = scalar_like(x, 0)
        extra = F.reshape(value, (1,)) if is_float(x) else value
        if is_float(x):
            return gather_map([x, F.cast(extra, x.dtype) if extra.dtype != x.dtype else extra], pos)
        return const(np.append(values(x).reshape(-1), values(value).reshape(-1)[:1].astype(x.dtype))[pos], x)
    pos = np.pad(pos, grow, mode={"reflect": "reflect", "edge": "edge", "wrap": "wrap"}[mode])
    return gather_positions(x, pos) if is_float(x) else const(values(x).reshape(-1)[pos], x)


rule("Pad", 1)(lambda x, *, paddings, mode="constant", value=0.0: _pad(x, paddings, mode, scalar_like(x, value)))
rule("Pad", 2)(lambda x, *, pads, mode="constant", value=0.0: _pad(x, pads, mode, scalar_like(x, value)))


@rule("Pad", 11, 13, 18, 19, 21, 23, 24, 25)
def pad(x, pads, constant_value=None, axes=None, *, mode="constant"):
    return _pad(x, ints(pads), mode, constant_value, None if axes is None else ints(axes))


@rule("EyeLike", 9, 22)
def eye_like(x, *, dtype=None, k=0):
    np_dtype = _onnx_dtype(dtype) if dtype is not None else values(x).dtype
    return const(np.eye(x.shape[0], x.shape[1], k=k, dtype=np_dtype), x)


def _onnx_dtype(code):
    from onnx import helper
    return helper.tensor_dtype_to_np_dtype(code)


# ---- export (continued) ----
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
