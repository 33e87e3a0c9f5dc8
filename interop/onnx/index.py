"""ONNX rules for autocompyute/ops/index.py: `x[index]`."""
import numpy as np

from autocompyute.ops import index as index_ops
from .builder import INT64_MAX, BatchDim
from .registry import export_rule
from ..errors import ExportError

# ---- export ----
INT64_MIN = np.iinfo(np.int64).min


def _is_int(i):
    return isinstance(i, (int, np.integer)) and not isinstance(i, bool) or (
        hasattr(i, "ndim") and i.ndim == 0 and i.dtype.kind in "iu")


def _is_array(i):
    return hasattr(i, "ndim") and i.ndim > 0


def _expand_ellipsis(index, ndim):
    used = sum(i.ndim if _is_array(i) and i.dtype.kind == "b" else 0 if i is None or i is Ellipsis else 1
               for i in index)
    out = []
    for i in index:
        if i is Ellipsis:
            out.extend([slice(None)] * (ndim - used))
        else:
            out.append(i)
    if Ellipsis not in [i for i in index if not _is_array(i)]:
        out.extend([slice(None)] * (ndim - used))
    return out


def _basic(g, x, index):
    """ints, slices and None: one Slice, then Squeeze (ints) and Unsqueeze (None)."""
    starts, ends, axes, steps, squeeze, unsqueeze = [], [], [], [], [], []
    axis, out_pos = 0, 0
    for i in index:
        if i is None:
            unsqueeze.append(out_pos)
            out_pos += 1
            continue
        if isinstance(i, slice):
            step = 1 if i.step is None else int(i.step)
            if step > 0:
                start, stop = (0 if i.start is None else int(i.start)), (INT64_MAX if i.stop is None else int(i.stop))
            else:
                start = INT64_MAX if i.start is None else int(i.start)
                stop = INT64_MIN if i.stop is None else int(i.stop)
            if (start, stop, step) != (0, INT64_MAX, 1):
                starts.append(start), ends.append(stop), axes.append(axis), steps.append(step)
            out_pos += 1
        else:  # an int: keep [i, i + 1) and squeeze that axis afterwards
            i = int(i)
            starts.append(i), ends.append(INT64_MAX if i == -1 else i + 1), axes.append(axis), steps.append(1)
            squeeze.append(axis)
        axis += 1
    if starts:
        x = g.add_node("Slice", [x, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps)])
    if squeeze:
        x = g.squeeze(x, squeeze)
    if unsqueeze:
        x = g.unsqueeze(x, unsqueeze)
    return x


@export_rule(index_ops.GetItem)
def _export_getitem(g, op, inputs):
    (x,) = inputs
    t = op.inputs[0]
    index = _expand_ellipsis(list(op.index), t.ndim)
    if not any(_is_array(i) for i in index):
        return _basic(g, x, index)
    # integer arrays of one axis, every other entry a full slice: a Gather along that axis
    arrays = [k for k, i in enumerate(index) if _is_array(i)]
    full = all(isinstance(i, slice) and i == slice(None) for k, i in enumerate(index) if k not in arrays)
    if len(arrays) == 1 and full and index[arrays[0]].dtype.kind in "iu" and not any(i is None for i in index):
        k = arrays[0]
        return g.add_node("Gather", [x, g.const(np.asarray(index[k], np.int64))], axis=k)
    # otherwise: gather from the flattened trailing dims behind any leading full slices (the batch)
    lead = 0
    while lead < len(index) and isinstance(index[lead], slice) and index[lead] == slice(None):
        lead += 1
    dims = g.dims(t)
    shape = t.shape
    positions = np.arange(int(np.prod(shape))).reshape(shape)
    want = positions[tuple(op.index)]
    rest = shape[lead:]
    flat = np.arange(int(np.prod(rest))).reshape(rest)[tuple(index[lead:])]
    candidate = np.take(positions.reshape(shape[:lead] + (-1,)), flat, axis=lead)
    if lead and np.array_equal(candidate, want):
        flat_x = g.add_node("Reshape", [x, g.ints([0] * lead + [-1])])
        return g.add_node("Gather", [flat_x, g.const(flat.astype(np.int64))], axis=lead)
    if any(isinstance(d, BatchDim) for d in dims):
        raise ExportError(f"x[{op.index}] on a tensor whose shape {dims} follows the batch size mixes the batch dim "
                          "into an advanced index; export with dynamic_batch=False")
    return g.add_node("Gather", [g.add_node("Reshape", [x, g.ints([-1])]), g.const(want.astype(np.int64))], axis=0)


# ---- import ----
from ._import_util import ints, values  # noqa: E402
from .registry import import_rule  # noqa: E402


@import_rule("Gather", since=1)
def gather(x, indices, *, axis=0):
    axis = axis % x.ndim
    idx = values(indices).astype(np.int64)
    idx = np.where(idx < 0, idx + x.shape[axis], idx)
    return x[(slice(None),) * axis + (idx,)]


def _slice(x, starts, ends, axes, steps):
    axes = list(range(len(starts))) if axes is None else [a % x.ndim for a in axes]
    steps = [1] * len(starts) if steps is None else steps
    index = [slice(None)] * x.ndim
    for start, end, a, step in zip(starts, ends, axes, steps):
        n = x.shape[a]
        if step == 0:
            raise ValueError("Slice: steps must not be 0")
        start = start + n if start < 0 else start
        end = end + n if end < 0 else end
        if step > 0:
            index[a] = slice(min(max(start, 0), n), min(max(end, 0), n), step)
        else:
            start = min(max(start, 0), n - 1)
            end = min(max(end, -1), n - 1)
            index[a] = slice(start, None if end < 0 else end, step)
    return x[tuple(index)]


@import_rule("Slice", since=1)
def slice_1(x, *, starts, ends, axes=None):
    return _slice(x, starts, ends, axes, None)


@import_rule("Slice", since=10)
def slice_10(x, starts, ends, axes=None, steps=None):
    return _slice(x, ints(starts), ints(ends), ints(axes), ints(steps))


# ---- export (continued) ----
def _fit_to(g, x, have, want, skip_axis):
    """Slice x (dims `have`) down to `want` along every axis but `skip_axis` where they differ."""
    axes = [d for d, (h, w) in enumerate(zip(have, want)) if d != skip_axis and h != w]
    if not axes:
        return x
    return g.add_node("Slice", [x, g.ints([0] * len(axes)), g.ints([want[d] for d in axes]), g.ints(axes)])


@export_rule(index_ops.Gather)
def _export_gather(g, op, inputs):
    x, index = inputs
    x = _fit_to(g, x, op.inputs[0].shape, op.inputs[1].shape, op.axis)
    return g.add_node("GatherElements", [x, index], axis=op.axis)


@export_rule(index_ops.ScatterAdd)
def _export_scatter_add(g, op, inputs):
    if g.opset < 16:
        raise ExportError("scatter_add needs opset >= 16 (ScatterElements with reduction='add')")
    x, index, src = inputs
    src = _fit_to(g, src, op.inputs[2].shape, op.inputs[1].shape, None)
    return g.add_node("ScatterElements", [x, index, src], axis=op.axis, reduction="add")


@export_rule(index_ops.MaskedFill)
def _export_masked_fill(g, op, inputs):
    x, mask = inputs
    return g.add_node("Where", [mask, g.const(op.value, op.inputs[0].dtype), x])
