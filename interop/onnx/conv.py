"""ONNX rules for autocompyute/ops/conv.py: convolutions and pooling (MaxUnpool included), and Resize/Upsample."""
import math

import numpy as np

import autocompyute.functional as F
from autocompyute.ops.conv import Conv, ConvTranspose, avg_pool
from autocompyute.ops.conv import max_pool as engine_max_pool
from autocompyute.ops.onnx_ops import gather_map

from ..errors import OnnxImportError
from . import _pooling, _resize as _general_resize
from ._import_util import axes as wrap_axes, check_alloc, const, ints, rule, scalar_like, values
from .registry import import_rule

# ---- export ----
from autocompyute.ops import conv as conv_ops  # noqa: E402
from .registry import export_rule  # noqa: E402


def _ceil_crop(g, op, y, nd):
    """With ceil_mode, ONNX may add a last window that starts in the right padding; PyTorch (and the engine)
    drop it. Crop the pooled output to the engine's spatial size."""
    if not op.ceil_mode:
        return y
    want = op.out_meta[0][0][-nd:]
    return g.add_node("Slice", [y, g.ints([0] * nd), g.ints(want), g.ints(range(-nd, 0))])


def _batched(g, op, x, nd):
    """Unsqueeze an unbatched input (C, *spatial) to (1, C, *spatial); says whether it did."""
    if op.inputs[0].ndim == nd + 1:
        return g.unsqueeze(x, [0]), True
    return x, False


@export_rule(conv_ops.Conv)
def _export_conv(g, op, inputs):
    w = op.inputs[1]
    nd = w.ndim - 2
    x, unbatched = _batched(g, op, inputs[0], nd)
    y = g.add_node("Conv", [x] + list(inputs[1:]), kernel_shape=list(w.shape[2:]), strides=list(op.stride),
                   pads=[lo for lo, _ in op.padding] + [hi for _, hi in op.padding], dilations=list(op.dilation),
                   group=int(op.groups))
    return g.squeeze(y, [0]) if unbatched else y


@export_rule(conv_ops.ConvTranspose)
def _export_conv_transpose(g, op, inputs):
    w = op.inputs[1]
    nd = w.ndim - 2
    x, unbatched = _batched(g, op, inputs[0], nd)
    lo = [a for a, _ in op.padding]
    hi = [b for _, b in op.padding]
    attrs = dict(kernel_shape=list(w.shape[2:]), strides=list(op.stride), dilations=list(op.dilation),
                 group=int(op.groups))
    if all(p < s for p, s in zip(op.output_padding, op.stride)):
        y = g.add_node("ConvTranspose", [x] + list(inputs[1:]), pads=lo + hi, output_padding=list(op.output_padding),
                       **attrs)
    else:  # onnxruntime wants output_padding < stride (PyTorch: < max(stride, dilation)): crop less on the
        # right instead, pad with zeros where the full output ends, then add the bias
        hi_cut = [max(h - p, 0) for h, p in zip(hi, op.output_padding)]
        rest = [p - (h - c) for h, c, p in zip(hi, hi_cut, op.output_padding)]
        y = g.add_node("ConvTranspose", [x, inputs[1]], pads=lo + hi_cut, **attrs)
        if any(rest):
            y = g.add_node("Pad", [y, g.ints([0] * (nd + 2) + [0, 0] + rest)])
        if len(inputs) > 2:
            y = g.add_node("Add", [y, g.unsqueeze(inputs[2], list(range(1, nd + 1)))])
    return g.squeeze(y, [0]) if unbatched else y


@export_rule(conv_ops.MaxPool)
def _export_max_pool(g, op, inputs):
    nd = len(op.kernel_size)
    x, unbatched = _batched(g, op, inputs[0], nd)
    outs = g.add_node("MaxPool", [x], n_outputs=2 if op.return_indices else 1, kernel_shape=list(op.kernel_size),
                      strides=list(op.stride), pads=list(op.padding) * 2, dilations=list(op.dilation),
                      ceil_mode=int(op.ceil_mode))
    outs = [_ceil_crop(g, op, o, nd) for o in (outs if isinstance(outs, list) else [outs])]
    if op.return_indices:  # ONNX counts over the whole tensor, PyTorch within each (H, W) plane
        plane = int(np.prod(op.inputs[0].shape[-nd:]))
        outs[1] = g.add_node("Mod", [outs[1], g.const(np.int64(plane))])
    return [g.squeeze(o, [0]) for o in outs] if unbatched else outs


@export_rule(conv_ops.AvgPool)
def _export_avg_pool(g, op, inputs):
    nd = len(op.kernel_size)
    x, unbatched = _batched(g, op, inputs[0], nd)
    include = op.count_include_pad or op.divisor_override is not None
    y = g.add_node("AveragePool", [x], kernel_shape=list(op.kernel_size), strides=list(op.stride),
                   pads=list(op.padding) * 2, ceil_mode=int(op.ceil_mode), count_include_pad=int(include))
    y = _ceil_crop(g, op, y, nd)
    if op.divisor_override is not None:  # mean over the window * window size / divisor
        scale = float(np.prod(op.kernel_size)) / op.divisor_override
        y = g.add_node("Mul", [y, g.const(scale, op.inputs[0].dtype)])
    return g.squeeze(y, [0]) if unbatched else y


@export_rule(conv_ops.AdaptiveAvgPool)
def _export_adaptive_avg_pool(g, op, inputs):
    t, x = op.inputs[0], inputs[0]
    nd = len(op.output_size)
    spatial = t.shape[-nd:]
    if all(o == 1 for o in op.output_size):
        return g.reduce("ReduceMean", x, list(range(t.ndim - nd, t.ndim)), True)
    if all(s % o == 0 for s, o in zip(spatial, op.output_size)):
        x, unbatched = _batched(g, op, x, nd)
        kernel = [s // o for s, o in zip(spatial, op.output_size)]
        y = g.add_node("AveragePool", [x], kernel_shape=kernel, strides=kernel)
        return g.squeeze(y, [0]) if unbatched else y
    # overlapping bins: one averaging matrix per spatial dim, as the engine does
    for i, (s, o) in enumerate(zip(spatial, op.output_size)):
        axis = t.ndim - nd + i
        m = np.asarray(conv_ops.adaptive_bins(np, s, o, t.dtype))  # (o, s)
        perm = list(range(t.ndim))
        perm[axis], perm[-1] = perm[-1], perm[axis]
        x = g.add_node("Transpose", [x], perm=perm)
        x = g.add_node("MatMul", [x, g.const(np.ascontiguousarray(m.T))])
        x = g.add_node("Transpose", [x], perm=perm)
    return x



# ---- import ----
def _auto_pads(auto_pad, spatial, kernel, strides, dilations, pads):
    """(lo, hi) per spatial dim from ONNX's pads [x1_begin, x2_begin, ..., x1_end, ...] or auto_pad."""
    nd = len(spatial)
    if auto_pad not in ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"):
        raise OnnxImportError(f"auto_pad {auto_pad!r} is none of NOTSET, SAME_UPPER, SAME_LOWER, VALID")
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        return tuple(_pooling.same_split(max((-(-s // st) - 1) * st + (k - 1) * d + 1 - s, 0), auto_pad)
                     for s, k, st, d in zip(spatial, kernel, strides, dilations))
    if auto_pad == "VALID" or pads is None:
        return ((0, 0),) * nd
    if len(pads) != 2 * nd or any(p < 0 for p in pads):
        raise OnnxImportError(f"pads {list(pads)} must be {2 * nd} non-negative values for {nd} spatial dims")
    return tuple((pads[i], pads[i + nd]) for i in range(nd))


def _geometry(strides, dilations, nd):
    """ONNX's strides and dilations, 1 where omitted; one positive value per spatial dim."""
    strides = tuple(strides) if strides is not None else (1,) * nd
    dilations = tuple(dilations) if dilations is not None else (1,) * nd
    for name, v in (("strides", strides), ("dilations", dilations)):
        if len(v) != nd or any(a < 1 for a in v):
            raise OnnxImportError(f"{name} {list(v)} must be {nd} values of at least 1, one per spatial dim")
    return strides, dilations


@import_rule("Conv", since=1)
def conv(x, w, b=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None, strides=None):
    nd = w.ndim - 2
    if kernel_shape is not None and tuple(kernel_shape) != tuple(w.shape[2:]):
        raise OnnxImportError(f"Conv: kernel_shape {list(kernel_shape)} is not the weight's {tuple(w.shape[2:])}")
    if x.ndim != w.ndim or group < 1 or x.shape[1] != w.shape[1] * group or w.shape[0] % group:
        raise OnnxImportError(f"Conv: input {tuple(x.shape)} and weight {tuple(w.shape)} do not fit group={group} "
                              "(input channels = weight's dim 1 x group, output channels divisible by group)")
    strides, dilations = _geometry(strides, dilations, nd)
    padding = _auto_pads(auto_pad, x.shape[2:], w.shape[2:], strides, dilations, pads)
    check_alloc(tuple(x.shape[:2]) + tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[2:], padding)), x.dtype,
                "Conv (padded input)")
    out = [max((s + lo + hi - d * (k - 1) - 1) // st + 1, 0) for s, k, st, d, (lo, hi) in
           zip(x.shape[2:], w.shape[2:], strides, dilations, padding)]
    check_alloc((x.shape[0], w.shape[0], *out), x.dtype, "Conv")
    # one sample's windows are copied into a (C * kernel, output positions) matrix
    check_alloc((x.shape[1] * math.prod(w.shape[2:]), math.prod(out)), x.dtype, "Conv (one sample's windows)")
    args = (x, w) if b is None else (x, w, b)
    return Conv.apply(*args, stride=strides, padding=padding, dilation=dilations, groups=group)


@import_rule("ConvTranspose", since=1)
def conv_transpose(x, w, b=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None,
                   output_padding=None, output_shape=None, pads=None, strides=None):
    nd = w.ndim - 2
    strides, dilations = _geometry(strides, dilations, nd)
    output_padding = tuple(output_padding) if output_padding is not None else (0,) * nd
    spans = [(s - 1) * st + (k - 1) * d + 1 for s, st, k, d in zip(x.shape[2:], strides, w.shape[2:], dilations)]
    full = [f + op for f, op in zip(spans, output_padding)]
    if output_shape is not None:  # pads follow from the requested size
        padding = tuple(_pooling.same_split(f - o, auto_pad) for f, o in zip(full, output_shape[-nd:]))
        if any(hi < 0 for _, hi in padding):  # a larger requested size: zeros added at the end
            output_padding = tuple(op - min(hi, 0) for op, (_, hi) in zip(output_padding, padding))
            padding = tuple((lo, max(hi, 0)) for lo, hi in padding)
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        padding = tuple(_pooling.same_split(max(f - s * st, 0), auto_pad)
                        for f, s, st in zip(full, x.shape[2:], strides))
    else:
        padding = _auto_pads(auto_pad, x.shape[2:], w.shape[2:], strides, dilations, pads)
    check_alloc((x.shape[0], w.shape[1] * group, *(f + op for f, op in zip(spans, output_padding))), x.dtype,
                "ConvTranspose")
    # each input position's products with the whole kernel are one column before they are added up
    check_alloc((w.shape[1] * group * math.prod(w.shape[2:]), x.shape[0] * math.prod(x.shape[2:])), x.dtype,
                "ConvTranspose (columns)")
    args = (x, w) if b is None else (x, w, b)
    if all(lo == hi for lo, hi in padding):
        return ConvTranspose.apply(*args, stride=strides, padding=padding, output_padding=output_padding,
                                   dilation=dilations, groups=group)
    y = ConvTranspose.apply(*args, stride=strides, padding=((0, 0),) * nd, output_padding=output_padding,
                            dilation=dilations, groups=group)
    return y[(slice(None), slice(None)) + tuple(slice(lo, y.shape[2 + i] - hi) for i, (lo, hi) in enumerate(padding))]


def _check_pool_pads(what, kernel_shape, pads):
    """Pads as wide as the kernel make windows of padding only (onnxruntime refuses them)."""
    if pads and any(p >= k for p, k in zip(pads, list(kernel_shape) * 2)):
        raise OnnxImportError(f"{what}: pads {list(pads)} must be smaller than the kernel {list(kernel_shape)}")


def _engine_pool_args(x, kernel_shape, strides, dilations, pads, auto_pad):
    """(strides, dilations, symmetric padding) when the engine's pooling Ops take these attributes
    (floating-point input, symmetric pads of at most half the kernel), else None: the rules then use the general
    gather forms in _pooling.py (integers, asymmetric or wide pads, indices)."""
    if x.dtype.kind != "f":
        return None
    strides, dilations = _geometry(strides, dilations, len(kernel_shape))
    padding = _auto_pads(auto_pad, x.shape[2:], kernel_shape, strides, dilations, pads)
    if not all(lo == hi and 2 * lo <= k for (lo, hi), k in zip(padding, kernel_shape)):
        return None
    return strides, dilations, tuple(lo for lo, _ in padding)


@rule("MaxPool", 1, 8, 10, 11, 12, 22)
def max_pool(x, *, auto_pad="NOTSET", ceil_mode=0, dilations=None, kernel_shape, pads=None, storage_order=0,
             strides=None, ctx):
    _check_pool_pads("MaxPool", kernel_shape, pads)
    args = _engine_pool_args(x, kernel_shape, strides, dilations, pads, auto_pad)
    if len([n for n in ctx.node.outputs if n]) > 1 or args is None:
        return _pooling.max_pool(x, kernel_shape, auto_pad, ceil_mode, dilations, pads, storage_order, strides)
    strides, dilations, padding = args
    return engine_max_pool(x, kernel_shape, strides, padding, dilations, bool(ceil_mode), nd=len(kernel_shape))


@rule("AveragePool", 1, 7, 10, 11, 19, 22)
def average_pool(x, *, auto_pad="NOTSET", ceil_mode=0, count_include_pad=0, dilations=None, kernel_shape,
                 pads=None, strides=None):
    _check_pool_pads("AveragePool", kernel_shape, pads)
    args = _engine_pool_args(x, kernel_shape, strides, dilations, pads, auto_pad)
    if any(d != 1 for d in dilations or ()) or args is None:
        return _pooling.avg_pool(x, kernel_shape, auto_pad, ceil_mode, count_include_pad, dilations, pads, strides)
    strides, _, padding = args
    return avg_pool(x, kernel_shape, strides, padding, bool(ceil_mode), bool(count_include_pad),
                    nd=len(kernel_shape))


@rule("LpPool", 1, 2, 11, 18, 22)
def lp_pool(x, *, kernel_shape, auto_pad="NOTSET", ceil_mode=0, dilations=None, p=2, pads=None, strides=None):
    return _pooling.lp_pool(x, kernel_shape, auto_pad, ceil_mode, dilations, p, pads, strides)


@rule("GlobalAveragePool", 1, 22)
def global_average_pool(x):
    return F.mean(x, tuple(range(2, x.ndim)), keepdim=True)


@rule("GlobalMaxPool", 1, 22)
def global_max_pool(x):
    y = x
    for d in range(x.ndim - 1, 1, -1):
        y = F.max(y, d, keepdim=True)[0]
    return y


@rule("GlobalLpPool", 2, 22)
def global_lp_pool(x, *, p=2):
    return F.sum(F.abs(x) ** float(p), tuple(range(2, x.ndim)), keepdim=True) ** (1.0 / p)


# ---- MaxUnpool: MaxPool's indices put the values back, zeros elsewhere ----
@rule("MaxUnpool", 9, 11, 22)
def max_unpool(x, indices, output_shape=None, *, kernel_shape, pads=None, strides=None):
    nd = x.ndim - 2
    strides = strides or [1] * nd
    pads = pads or [0] * (2 * nd)
    inferred = list(x.shape[:2]) + [(x.shape[2 + d] - 1) * strides[d] + kernel_shape[d] - pads[d] - pads[d + nd]
                                    for d in range(nd)]
    check_alloc(inferred if output_shape is None else ints(output_shape), np.int64, "MaxUnpool")
    pos = np.full(math.prod(inferred), x.numel(), dtype=np.int64)  # unwritten: an extra zero
    pos[values(indices).reshape(-1)] = np.arange(x.numel())
    pos = pos.reshape(inferred)
    if output_shape is not None:  # the inferred result sits at the start of the larger output
        shape = ints(output_shape)
        pos = np.pad(pos, [(0, s - i) for s, i in zip(shape, inferred)], constant_values=x.numel())
    return gather_map([x, scalar_like(x, 0)], pos)


# ---- Resize: nearest and (bi/tri)linear, one axis at a time ----
def _source_coords(out_size, in_size, scale, mode, roi_lo=0.0, roi_hi=1.0):
    o = np.arange(out_size, dtype=np.float64)
    if mode == "half_pixel":
        return (o + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (o + 0.5) / scale - 0.5 if out_size > 1 else np.zeros(out_size)
    if mode == "align_corners":
        return o * (in_size - 1) / (out_size - 1) if out_size > 1 else np.zeros(out_size)
    if mode == "asymmetric":
        return o / scale
    if mode == "half_pixel_symmetric":
        adj = out_size / (scale * in_size)
        center = in_size / 2 * (1 - adj)
        return center + (o + 0.5) / scale - 0.5
    if mode == "tf_crop_and_resize":
        if out_size > 1:
            return roi_lo * (in_size - 1) + o * (roi_hi - roi_lo) * (in_size - 1) / (out_size - 1)
        return np.full(out_size, 0.5 * (roi_lo + roi_hi) * (in_size - 1))
    raise ValueError(f"Resize: coordinate_transformation_mode {mode!r} is not supported")


def _nearest(coords, nearest_mode):
    if nearest_mode == "round_prefer_floor":
        return np.where(coords - np.floor(coords) == 0.5, np.floor(coords), np.round(coords))
    if nearest_mode == "round_prefer_ceil":
        return np.floor(coords + 0.5)
    if nearest_mode == "floor":
        return np.floor(coords)
    if nearest_mode == "ceil":
        return np.ceil(coords)
    raise ValueError(f"Resize: nearest_mode {nearest_mode!r} is not supported")


def _take(x, axis, idx):
    return x[(slice(None),) * axis + (idx,)]


def _resize(x, out_shape, scales, mode, coord_mode, nearest_mode):
    if mode not in ("nearest", "linear"):
        raise ValueError(f"Resize: mode {mode!r} is not supported (nearest and linear are)")
    for axis, (n_in, n_out, scale) in enumerate(zip(x.shape, out_shape, scales)):
        if n_in == n_out and scale == 1.0:
            continue
        coords = _source_coords(n_out, n_in, scale, coord_mode)
        if mode == "nearest":
            x = _take(x, axis, np.clip(_nearest(coords, nearest_mode), 0, n_in - 1).astype(np.int64))
            continue
        coords = np.clip(coords, 0, n_in - 1)
        lo = np.floor(coords).astype(np.int64)
        hi = np.minimum(lo + 1, n_in - 1)
        frac = (coords - lo).astype(x.dtype)
        shape = [1] * x.ndim
        shape[axis] = n_out
        w = const(frac.reshape(shape), x)
        x = _take(x, axis, lo) * (1 - w) + _take(x, axis, hi) * w
    return x


def _direct(x, mode):
    """Whether the direct gather (nearest) or blend (linear) below applies; integer data blends in _resize.py."""
    return mode == "nearest" or mode == "linear" and x.dtype.kind == "f"


@rule("Resize", 11, 13, 18, 19)
def resize(x, roi=None, scales=None, sizes=None, *, antialias=0, axes=None, coordinate_transformation_mode="half_pixel",
           cubic_coeff_a=-0.75, exclude_outside=0, extrapolation_value=0.0, keep_aspect_ratio_policy="stretch",
           mode="nearest", nearest_mode="round_prefer_floor"):
    if (antialias or exclude_outside or keep_aspect_ratio_policy != "stretch" or not _direct(x, mode)
            or coordinate_transformation_mode in ("tf_crop_and_resize", "align_corners")):
        general = _general_resize.resize  # cubic, antialias, aspect policies, crops: interpolation matrices
        return general(x, roi, scales, sizes, antialias=antialias, axes=axes, cubic_coeff_a=cubic_coeff_a,
                       coordinate_transformation_mode=coordinate_transformation_mode, mode=mode,
                       exclude_outside=exclude_outside, extrapolation_value=extrapolation_value,
                       keep_aspect_ratio_policy=keep_aspect_ratio_policy, nearest_mode=nearest_mode)
    axes = list(range(x.ndim)) if axes is None else wrap_axes(axes, x.ndim)
    scale_list = [1.0] * x.ndim
    out_shape = list(x.shape)
    want, vals = _general_resize.resize_lists(axes, scales, sizes)
    if want is not None:
        for a, s in zip(axes, want):
            out_shape[a] = s
            scale_list[a] = s / x.shape[a]
    else:
        for a, s in zip(axes, vals):
            scale_list[a] = s
            out_shape[a] = int(math.floor(x.shape[a] * s))
    check_alloc(out_shape, x.dtype, "Resize")
    return _resize(x, out_shape, scale_list, mode, coordinate_transformation_mode, nearest_mode)


@import_rule("Upsample", since=9)
def upsample(x, scales, *, mode="nearest"):
    if not _direct(x, mode):
        return _general_resize.resize(x, None, scales, None, mode=mode, coordinate_transformation_mode="asymmetric",
                                      nearest_mode="floor")
    s = values(scales).reshape(-1).tolist()
    out_shape = [int(math.floor(n * f)) for n, f in zip(x.shape, s)]
    check_alloc(out_shape, x.dtype, "Upsample")
    return _resize(x, out_shape, s, mode, "asymmetric", "floor")


@import_rule("Upsample", since=7)
def upsample_7(x, *, scales, mode="nearest"):
    """Opset 7: the scales are an attribute."""
    return upsample(x, const(np.asarray(scales, np.float32), x), mode=mode)


@import_rule("Resize", since=10)
def resize_10(x, scales, *, mode="nearest"):
    return upsample(x, scales, mode=mode)
