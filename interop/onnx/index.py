"""ONNX rules for autocompyute/ops/index.py: `x[index]`, gathers and scatters. The import side also holds
ONNX's other index ops: GatherElements, GatherND, the Scatter family, TensorScatter, Compress, OneHot,
NonZero and Unique."""
import numpy as np

from autocompyute.ops import index as index_ops
from .builder import INT64_MAX, BatchDim
from .registry import export_rule
from ..errors import ExportError, OnnxImportError

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
import math  # noqa: E402

from autocompyute.ops.onnx_ops import gather_map  # noqa: E402

from ._import_util import apply_movement, const, flat_positions, ints, is_float, rule, values  # noqa: E402
from ._import_util import axes as wrap_axes, axis as wrap_axis, check_alloc, distinct_axes  # noqa: E402
from .registry import import_rule  # noqa: E402


@import_rule("Gather", since=1)
def gather(x, indices, *, axis=0):
    axis = wrap_axis(axis, x.ndim)
    check_alloc(x.shape[:axis] + indices.shape + x.shape[axis + 1:], x.dtype, "Gather")
    idx = _fix_index(values(indices), x.shape[axis], "Gather")
    return x[(slice(None),) * axis + (idx,)]


def _slice(x, starts, ends, axes, steps):
    axes = list(range(len(starts))) if axes is None else distinct_axes(axes, x.ndim)
    steps = [1] * len(starts) if steps is None else steps
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise OnnxImportError(f"Slice: starts {starts}, ends {ends}, axes {axes} and steps {steps} must have one "
                              "value each per sliced axis")
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


# ---- gathers, scatters and shuffles: index arithmetic on positions, then one GatherMap ----
def _fix_index(idx, n, what="index"):
    """Indices into a dim of length n (or into dims of lengths n, an array broadcast along idx's last axis),
    negative ones counted from the end; any outside [-n, n) is an error (adding n once more would wrap it around
    silently)."""
    idx = np.asarray(idx, dtype=np.int64)
    lengths = np.broadcast_to(np.asarray(n, dtype=np.int64), idx.shape)
    bad = (idx < -lengths) | (idx >= lengths)
    if bad.any():
        raise OnnxImportError(f"{what}: index {idx[bad][0]} is out of range for a dim of length {lengths[bad][0]}")
    return np.where(idx < 0, idx + lengths, idx)


@rule("GatherElements", 11, 13)
def gather_elements(x, indices, *, axis=0):
    axis = wrap_axis(axis, x.ndim)
    idx = _fix_index(values(indices), x.shape[axis], "GatherElements")
    return apply_movement(x, lambda a: np.take_along_axis(a, idx, axis=axis))


def _gather_nd_np(a, idx, batch_dims):
    """GatherND on arrays: the leading batch_dims of a and idx agree; the last axis of idx indexes the next k dims
    of a (negative indices from the end). One fancy index over all batches."""
    batch, k = a.shape[:batch_dims], idx.shape[-1] if idx.ndim else 0
    if idx.ndim < batch_dims + 1 or idx.shape[:batch_dims] != batch or k > a.ndim - batch_dims:
        raise OnnxImportError(f"GatherND: indices {idx.shape} do not fit data {a.shape} with batch_dims "
                              f"{batch_dims} (the batch dims must agree, the last index dim be at most "
                              f"{a.ndim - batch_dims})")
    nb = math.prod(batch)
    a2 = a.reshape((nb,) + a.shape[batch_dims:])
    i2 = idx.reshape((nb, -1, k))                                                 # (batch, points, k)
    i2 = _fix_index(i2, a2.shape[1:1 + k], "GatherND")
    rows = np.arange(nb).reshape(-1, 1)
    res = a2[(rows,) + tuple(np.moveaxis(i2, -1, 0))]                             # (batch, points, *rest)
    return res.reshape(batch + idx.shape[batch_dims:-1] + a.shape[batch_dims + k:])


@rule("GatherND", 11, 12, 13)
def gather_nd(x, indices, *, batch_dims=0):
    idx = values(indices).astype(np.int64)
    return apply_movement(x, lambda a: _gather_nd_np(a, idx, batch_dims))


def _scatter(data, updates, targets, reduction="none"):
    """Scatter `updates` into `data`; `targets(shape)` gives the flat position in `data` that each update
    element (in row-major order) is written to. Repeated positions: the last update wins ("none"), or all are
    combined in update order. Reductions other than none and add are computed on values (their gradient passes
    to the data only where nothing was written)."""
    n = data.numel()
    where = targets(tuple(data.shape))                                  # (number of updates,)
    if reduction in ("none", "add") and is_float(data):
        upd = np.arange(n, n + updates.numel(), dtype=np.int64)         # the updates' ids in gather_map's input
        if reduction == "none":
            pos = flat_positions(data)
            pos.reshape(-1)[where] = upd
            return gather_map([data, updates], pos)
        # add: each output sums its data element and every update written to it, padded with weight-0 copies
        order = np.argsort(where, kind="stable")
        counts = np.bincount(where, minlength=n)
        k = 1 + int(counts.max(initial=0))
        index = np.repeat(np.arange(n, dtype=np.int64)[:, None], k, axis=1)
        weight = np.zeros((n, k))
        weight[:, 0] = 1.0
        rank = np.arange(len(where)) - np.repeat(np.cumsum(counts) - counts, counts)  # place among its target's
        index[where[order], 1 + rank] = upd[order]
        weight[where[order], 1 + rank] = 1.0
        return gather_map([data, updates], index.reshape(tuple(data.shape) + (k,)),
                          weight.reshape(tuple(data.shape) + (k,)))
    out = values(data).copy()
    vals = values(updates).reshape(-1)
    if reduction == "none":
        out.reshape(-1)[where] = vals
    else:  # ufunc.at applies repeated positions one after another, in update order
        {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}[reduction].at(
            out.reshape(-1), where, vals)
    return const(out, data)


def _flat_targets(op, coords, shape):
    """Flat positions of index tuples `coords` (one array per dim, negatives already wrapped) in `shape`; an
    IndexError names the op for any out of bounds."""
    for axis, (c, size) in enumerate(zip(coords, shape)):
        bad = (c < 0) | (c >= size)
        if bad.any():
            raise IndexError(f"{op}: index {int(np.asarray(c)[bad].flat[0])} is out of bounds for axis {axis} "
                             f"with size {size}")
    return np.ravel_multi_index(tuple(coords), shape).reshape(-1)


def _elements_targets(op, indices, axis):
    """ScatterElements: update (i, j, ...) goes to the same position with index[i, j, ...] along `axis`."""
    def targets(shape):
        idx = _fix_index(indices, shape[axis])
        coords = list(np.indices(idx.shape))
        coords[axis] = idx
        return _flat_targets(op, coords, shape)
    return targets


def _nd_targets(indices):
    """ScatterND: each index row (a prefix of k coordinates) takes a whole slice shape[k:] of updates."""
    def targets(shape):
        idx = np.asarray(indices, dtype=np.int64)
        k = idx.shape[-1]
        rows = np.where(idx < 0, idx + np.array(shape[:k]), idx).reshape(-1, k)
        base = _flat_targets("ScatterND", list(rows.T), shape[:k])     # (rows,)
        size = math.prod(shape[k:])
        return (base[:, None] * size + np.arange(size)).reshape(-1)
    return targets


@rule("ScatterElements", 11, 13, 16, 18)
def scatter_elements(data, indices, updates, *, axis=0, reduction="none"):
    return _scatter(data, updates, _elements_targets("ScatterElements", values(indices), axis), reduction)


@rule("Scatter", 9, 11)
def scatter(data, indices, updates, *, axis=0):
    return _scatter(data, updates, _elements_targets("Scatter", values(indices), axis))


@rule("ScatterND", 11, 13, 16, 18)
def scatter_nd(data, indices, updates, *, reduction="none"):
    return _scatter(data, updates, _nd_targets(values(indices)), reduction)


@rule("TensorScatter", 24)
def tensor_scatter(past, update, write_indices=None, *, axis=-2, mode="linear"):
    """Write update[b] into the cache of batch b at write_indices[b] along `axis` (wrapping when circular)."""
    ax = axis % past.ndim
    starts = np.array(ints(write_indices) if write_indices is not None else [0] * past.shape[0], np.int64)

    def targets(shape):
        coords = list(np.indices(tuple(update.shape)))
        j = starts[coords[0]] + coords[ax]                              # update (b, ..., i, ...) -> b's start + i
        coords[ax] = j % shape[ax] if mode == "circular" else j
        return _flat_targets("TensorScatter", coords, shape)
    return _scatter(past, update, targets)


@rule("Compress", 9, 11)
def compress(x, condition, *, axis=None):
    cond = values(condition).astype(bool)
    return apply_movement(x, lambda a: np.compress(cond, a, axis=axis))


@rule("OneHot", 9, 11)
def one_hot(indices, depth, off_on, *, axis=-1):
    """`off_on`: ONNX's `values` input, [off_value, on_value]."""
    d = int(values(depth).reshape(-1)[0])
    if d < 0:
        raise OnnxImportError(f"OneHot: depth {d} is negative")
    check_alloc(tuple(indices.shape) + (d,), np.bool_, "OneHot")
    idx = values(indices).astype(np.int64)
    idx = np.where(idx < 0, idx + d, idx)
    hot = idx[..., None] == np.arange(d)
    hot = np.moveaxis(hot, -1, axis % (idx.ndim + 1))
    off, on = values(off_on)[0], values(off_on)[1]
    return const(np.where(hot, on, off).astype(values(off_on).dtype), off_on)


@rule("NonZero", 9, 13)
def non_zero(x):
    return const(np.array(np.nonzero(values(x)), dtype=np.int64).reshape(x.ndim, -1), x)


@rule("Unique", 11)
def unique(x, *, axis=None, sorted=1):  # noqa: A002
    a = values(x)
    vals, first, inverse, counts = np.unique(a, return_index=True, return_inverse=True, return_counts=True, axis=axis)
    if not sorted:
        order = np.argsort(first, kind="stable")
        vals = np.take(vals, order, axis=0 if axis is None else axis)
        first, counts = first[order], counts[order]
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        inverse = rank[inverse.reshape(-1)]
    return (const(vals, x), const(first.astype(np.int64), x), const(inverse.reshape(-1).astype(np.int64), x),
            const(counts.astype(np.int64), x))


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
