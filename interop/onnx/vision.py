"""Import rules for vision ops: GridSample, Col2Im, RoiAlign, DeformConv and NonMaxSuppression.

Sampling ops are linear in the image for fixed coordinates, so each computes integer sample positions and
interpolation weights with numpy and applies one `GatherMap` (gradient to the image; the sampling coordinates
- grid, boxes, offsets - get none). NonMaxSuppression returns indices (no gradient).
"""
import itertools

import numpy as np

import autocompyute.functional as F
from autocompyute.ops.onnx_ops import gather_map

from ..errors import OnnxImportError
from ._import_util import check_alloc, const, ints, scalar, scalar_like, values
from .registry import import_rule


# ---------------------------------------------------------------------------------------------------------
# GridSample
# ---------------------------------------------------------------------------------------------------------
def _reflect(x, lo, hi):
    """Reflect coordinates at the borders lo/hi until they fall inside."""
    rng = hi - lo
    below, above = x < lo, x > hi
    d = np.where(below, lo - x, np.where(above, x - hi, 0.0))
    n = np.floor(d / rng) if rng > 0 else np.zeros_like(d)
    r = d - n * rng
    even = n % 2 == 0
    out = np.where(below, np.where(even, lo + r, hi - r), x)
    return np.where(above, np.where(even, hi - r, lo + r), out)


def _cubic(t, a=-0.75):
    """Keys' cubic weights for the taps at -1, 0, 1, 2 from a fractional offset t in [0, 1)."""
    t = np.abs(t)
    return np.stack([((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a,
                     ((a + 2) * t - (a + 3)) * t * t + 1,
                     ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1,
                     ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a], -1)


def _taps(x, size, mode, padding_mode, lo, hi):
    """Per-axis sample positions (..., T) and weights (..., T); position -1 marks a zero-padded sample."""
    if mode == "nearest":
        pos, w = x.astype(np.int64)[..., None], np.ones(x.shape + (1,))
    else:
        x0 = np.floor(x)
        t = x - x0
        if mode == "linear":
            pos, w = x0[..., None] + np.arange(2), np.stack([1 - t, t], -1)
        else:
            pos, w = x0[..., None] + np.arange(-1, 3), _cubic(t)
        pos = pos.astype(np.int64)
    if padding_mode == "zeros":
        pos = np.where((pos >= 0) & (pos < size), pos, -1)
    elif padding_mode == "border":
        pos = np.clip(pos, 0, size - 1)
    else:
        pos = _reflect(pos.astype(np.float64), lo, hi).astype(np.int64)
    return pos, w


@import_rule("GridSample", since=16)
def grid_sample(x, grid, *, align_corners=0, mode="linear", padding_mode="zeros"):
    """x (N, C, *D), grid (N, *out, nd) with coordinates in [-1, 1] (the last one indexes the last axis)."""
    mode = {"bilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
    if mode not in ("linear", "nearest", "cubic") or padding_mode not in ("zeros", "border", "reflection"):
        raise OnnxImportError(f"GridSample: mode {mode!r} / padding_mode {padding_mode!r} unknown")
    n, c, *dims = x.shape
    g = values(grid).astype(np.float64)[..., ::-1]  # (N, *out, nd), first spatial axis first
    out_shape = g.shape[1:-1]
    axis_pos, axis_w = [], []
    for i, size in enumerate(dims):
        v = g[..., i]
        v = (v + 1) / 2 * (size - 1) if align_corners else ((v + 1) * size - 1) / 2
        if mode == "nearest":
            v = np.rint(v)
        lo, hi = (0.0, size - 1.0) if align_corners else (-0.5, size - 0.5)
        outside = (v < lo) | (v > hi)
        if padding_mode == "border":
            v = np.where(outside, np.clip(v, 0, size - 1), v)
        elif padding_mode == "reflection":
            v = np.where(outside, _reflect(v, lo, hi), v)
        pos, w = _taps(v, size, mode, padding_mode, lo, hi)
        axis_pos.append(pos)
        axis_w.append(w)
    strides = np.cumprod([1] + dims[::-1])[::-1][1:]  # row-major strides of the spatial block
    flat, weight, valid = 0, 1.0, True
    for i, (pos, w) in enumerate(zip(axis_pos, axis_w)):
        expand = (Ellipsis,) + (None,) * i + (slice(None),) + (None,) * (len(dims) - 1 - i)
        flat = flat + pos[expand] * strides[i]
        weight = weight * w[expand]
        valid = valid & (pos[expand] >= 0)
    k = int(np.prod([p.shape[-1] for p in axis_pos]))
    flat = flat.reshape(n, *out_shape, k)
    weight = weight.reshape(n, *out_shape, k)
    valid = valid.reshape(n, *out_shape, k)
    spatial = int(np.prod(dims))
    base = (np.arange(n)[:, None] * c + np.arange(c)[None, :]) * spatial  # (N, C)
    index = base.reshape(n, c, *([1] * (len(out_shape) + 1))) + flat[:, None]
    index = np.where(valid[:, None], index, x.numel())  # the appended zero
    weight = np.broadcast_to(weight[:, None], index.shape)
    return gather_map([x, scalar_like(x, 0)], index, weight.astype(x.dtype))


# ---------------------------------------------------------------------------------------------------------
# RoiAlign
# ---------------------------------------------------------------------------------------------------------
def _roi_samples(y, x, height, width):
    """Bilinear corners of sample points y, x (arrays): flat positions (..., 4) and weights (..., 4)."""
    outside = (y < -1.0) | (y > height) | (x < -1.0) | (x > width)
    y, x = np.maximum(y, 0), np.maximum(x, 0)
    y_lo, x_lo = y.astype(np.int64), x.astype(np.int64)
    y_edge, x_edge = y_lo >= height - 1, x_lo >= width - 1
    y_lo, x_lo = np.where(y_edge, height - 1, y_lo), np.where(x_edge, width - 1, x_lo)
    y_hi, x_hi = np.where(y_edge, height - 1, y_lo + 1), np.where(x_edge, width - 1, x_lo + 1)
    y, x = np.where(y_edge, y_lo, y), np.where(x_edge, x_lo, x)
    ly, lx = y - y_lo, x - x_lo
    hy, hx = 1 - ly, 1 - lx
    pos = np.stack([y_lo * width + x_lo, y_lo * width + x_hi, y_hi * width + x_lo, y_hi * width + x_hi], -1)
    w = np.stack([hy * hx, hy * lx, ly * hx, ly * lx], -1)
    return np.where(outside[..., None], 0, pos), np.where(outside[..., None], 0.0, w)


def _roi_align(x, rois, batch_indices, half_pixel, mode, output_height, output_width, sampling_ratio,
               spatial_scale):
    n, c, height, width = x.shape
    boxes = values(rois).astype(np.float64)
    batch = ints(batch_indices)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or len(batch) != len(boxes) or any(not 0 <= b < n for b in batch):
        raise OnnxImportError(f"RoiAlign: rois {boxes.shape} and batch_indices {batch} must be (R, 4) boxes with "
                              f"one index in [0, {n}) each")
    if mode not in ("avg", "max") or output_height < 1 or output_width < 1 or sampling_ratio < 0:
        raise OnnxImportError(f"RoiAlign: mode {mode!r}, output {output_height}x{output_width}, sampling_ratio "
                              f"{sampling_ratio} out of range")
    check_alloc((len(boxes), c, output_height, output_width), x.dtype, "RoiAlign")
    outs = []
    for r, (x1, y1, x2, y2) in enumerate(boxes):
        off = 0.5 if half_pixel else 0.0
        sw, sh = x1 * spatial_scale - off, y1 * spatial_scale - off
        rw, rh = x2 * spatial_scale - off - sw, y2 * spatial_scale - off - sh
        if not half_pixel:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / output_height, rw / output_width
        gh = int(sampling_ratio) if sampling_ratio > 0 else int(np.ceil(rh / output_height))
        gw = int(sampling_ratio) if sampling_ratio > 0 else int(np.ceil(rw / output_width))
        ys = sh + np.arange(output_height)[:, None] * bh + (np.arange(gh)[None, :] + 0.5) * bh / gh  # (OH, gh)
        xs = sw + np.arange(output_width)[:, None] * bw + (np.arange(gw)[None, :] + 0.5) * bw / gw  # (OW, gw)
        y = np.broadcast_to(ys[:, None, :, None], (output_height, output_width, gh, gw))
        xx = np.broadcast_to(xs[None, :, None, :], y.shape)
        pos, w = _roi_samples(y, xx, height, width)  # (OH, OW, gh, gw, 4)
        base = (batch[r] * c + np.arange(c)) * height * width
        index = base.reshape(c, 1, 1, 1, 1, 1) + pos[None]
        if mode == "avg":
            count = max(gh * gw, 1)
            k = gh * gw * 4
            outs.append(gather_map([x], index.reshape(c, output_height, output_width, k),
                                   np.broadcast_to((w / count).reshape(1, output_height, output_width, k),
                                                   (c, output_height, output_width, k)).astype(x.dtype)))
        else:
            v = gather_map([x], index) * const(w.astype(x.dtype), x)  # (C, OH, OW, gh, gw, 4)
            v = F.reshape(v, (c, output_height, output_width, -1))
            m = F.max(v, -1)
            outs.append(m[0] if isinstance(m, tuple) else m)
    if not outs:
        return const(np.zeros((0, c, output_height, output_width), x.dtype), x)
    return F.stack(outs, 0)


@import_rule("RoiAlign", since=10)
def roi_align_10(x, rois, batch_indices, *, mode="avg", output_height=1, output_width=1, sampling_ratio=0,
                 spatial_scale=1.0):
    return _roi_align(x, rois, batch_indices, False, mode, output_height, output_width, sampling_ratio,
                      spatial_scale)


@import_rule("RoiAlign", since=16)
def roi_align(x, rois, batch_indices, *, coordinate_transformation_mode="half_pixel", mode="avg",
              output_height=1, output_width=1, sampling_ratio=0, spatial_scale=1.0):
    return _roi_align(x, rois, batch_indices, coordinate_transformation_mode == "half_pixel", mode,
                      output_height, output_width, sampling_ratio, spatial_scale)


# ---------------------------------------------------------------------------------------------------------
# Col2Im
# ---------------------------------------------------------------------------------------------------------
@import_rule("Col2Im", since=18)
def col2im(x, image_shape, block_shape, *, dilations=None, pads=None, strides=None):
    """x (N, C * prod(block), L) -> (N, C, *image): every column entry is added to its image position."""
    image, block = ints(image_shape), ints(block_shape)
    nd = len(image)
    dilations, strides = dilations or [1] * nd, strides or [1] * nd
    pads = pads or [0] * (2 * nd)
    n, cb, length = x.shape
    c = cb // int(np.prod(block))
    grid = [(image[i] + pads[i] + pads[i + nd] - dilations[i] * (block[i] - 1) - 1) // strides[i] + 1
            for i in range(nd)]
    # the image position of each (block offset, patch) pair, per axis, then flattened
    target = np.zeros([int(np.prod(block)), int(np.prod(grid))], np.int64)
    inside = np.ones_like(target, bool)
    b_idx = np.array(list(itertools.product(*[range(b) for b in block])))   # (B, nd)
    l_idx = np.array(list(itertools.product(*[range(g) for g in grid])))    # (L, nd)
    for i in range(nd):
        p = l_idx[None, :, i] * strides[i] - pads[i] + b_idx[:, None, i] * dilations[i]
        inside &= (p >= 0) & (p < image[i])
        target = target * image[i] + p
    spatial = int(np.prod(image))
    target = np.where(inside, target, spatial)  # a padded position lands on a spare slot
    # each image position sums the entries aimed at it: gather them, padded with the appended zero
    t = target.reshape(-1)
    order = np.argsort(t, kind="stable")
    counts = np.bincount(t, minlength=spatial + 1)[:spatial]
    k = max(int(counts.max()) if counts.size else 0, 1)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    src = np.full((spatial, k), -1, np.int64)
    sorted_t = t[order]
    keep = sorted_t < spatial
    rank = np.arange(len(t)) - np.concatenate([starts, [len(t)]])[sorted_t]
    src[sorted_t[keep], rank[keep]] = order[keep]
    per_channel = int(np.prod(block)) * length
    base = (np.arange(n)[:, None] * c + np.arange(c)[None, :]) * per_channel  # (N, C)
    index = base[:, :, None, None] + src[None, None]
    index = np.where(src[None, None] >= 0, index, x.numel())
    y = gather_map([x, scalar_like(x, 0)], index, np.ones(index.shape, x.dtype))
    return F.reshape(y, (n, c, *image))


# ---------------------------------------------------------------------------------------------------------
# NonMaxSuppression
# ---------------------------------------------------------------------------------------------------------
def _iou(a, b, center):
    if center:
        a = np.array([a[0] - a[2] / 2, a[1] - a[3] / 2, a[0] + a[2] / 2, a[1] + a[3] / 2])
        b = np.stack([b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2, b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2], 1)
    else:  # corners in either order
        a = np.array([min(a[0], a[2]), min(a[1], a[3]), max(a[0], a[2]), max(a[1], a[3])])
        b = np.stack([np.minimum(b[:, 0], b[:, 2]), np.minimum(b[:, 1], b[:, 3]),
                      np.maximum(b[:, 0], b[:, 2]), np.maximum(b[:, 1], b[:, 3])], 1)
    ih = np.maximum(0, np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]))
    iw = np.maximum(0, np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]))
    inter = ih * iw
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0)


@import_rule("NonMaxSuppression", since=10)
def non_max_suppression(boxes, scores, max_output_boxes_per_class=None, iou_threshold=None,
                        score_threshold=None, *, center_point_box=0):
    """Greedy selection per batch and class: (num_selected, 3) int64 rows [batch, class, box]."""
    bx, sc = values(boxes).astype(np.float64), values(scores).astype(np.float64)
    limit = int(scalar(max_output_boxes_per_class, 0, lenient=True))
    iou_max = float(scalar(iou_threshold, 0.0, lenient=True))
    floor = scalar(score_threshold, lenient=True)
    picked = []
    for b in range(sc.shape[0]):
        for c in range(sc.shape[1]):
            s = sc[b, c]
            order = np.argsort(-s, kind="stable")
            if floor is not None:
                order = order[s[order] > floor]
            chosen = []
            for i in order:
                if len(chosen) >= limit:
                    break
                if chosen and (_iou(bx[b, i], bx[b, chosen], center_point_box) > iou_max).any():
                    continue
                chosen.append(int(i))
            picked += [[b, c, i] for i in chosen]
    return const(np.asarray(picked, np.int64).reshape(-1, 3), boxes)


# ---------------------------------------------------------------------------------------------------------
# DeformConv (2-D)
# ---------------------------------------------------------------------------------------------------------
@import_rule("DeformConv", since=19)
def deform_conv(x, w, offset, b=None, mask=None, *, dilations=None, group=1, kernel_shape=None, offset_group=1,
                pads=None, strides=None):
    """Each kernel tap samples x bilinearly (zeros outside) at its position plus a learned offset, weighted by
    `mask`; then a grouped convolution over the samples. Gradients reach x, w, b and mask."""
    from autocompyute.ops.onnx_ops import einsum
    n, c, height, width = x.shape
    oc = w.shape[0]
    kh, kw = kernel_shape or w.shape[2:]
    dh, dw = dilations or (1, 1)
    sh, sw = strides or (1, 1)
    pads = pads or (0, 0, 0, 0)
    oh, ow = offset.shape[2:]
    off = values(offset).astype(np.float64).reshape(n, offset_group, kh, kw, 2, oh, ow)
    ys = (-pads[0] + sh * np.arange(oh))[:, None] + 0 * np.arange(ow)[None, :]           # (OH, OW)
    xs = (-pads[1] + sw * np.arange(ow))[None, :] + 0 * np.arange(oh)[:, None]
    py = ys + (np.arange(kh) * dh)[:, None, None, None] + off[:, :, :, :, 0]            # (N, G, KH, KW, OH, OW)
    px = xs + (np.arange(kw) * dw)[None, :, None, None] + off[:, :, :, :, 1]
    pos_y, w_y = _taps(py, height, "linear", "zeros", 0, height - 1)
    pos_x, w_x = _taps(px, width, "linear", "zeros", 0, width - 1)
    flat = pos_y[..., :, None] * width + pos_x[..., None, :]                              # (..., 2, 2)
    valid = (pos_y[..., :, None] >= 0) & (pos_x[..., None, :] >= 0)
    weight = (w_y[..., :, None] * w_x[..., None, :]).reshape(*flat.shape[:-2], 4)
    flat, valid = flat.reshape(weight.shape), valid.reshape(weight.shape)
    per_group = c // offset_group
    chan = np.arange(c)
    g_of = chan // per_group
    index = ((np.arange(n)[:, None] * c + chan[None, :]) * height * width)[..., None, None, None, None, None] + \
        flat[:, g_of]                                                                     # (N, C, KH, KW, OH, OW, 4)
    keep = valid[:, g_of]
    index = np.where(keep, index, x.numel())
    cols = gather_map([x, scalar_like(x, 0)], index, np.where(keep, weight[:, g_of], 0).astype(x.dtype))
    if mask is not None:
        m = F.reshape(mask, (n, offset_group, 1, kh, kw, oh, ow))
        cols = F.reshape(F.reshape(cols, (n, offset_group, per_group, kh, kw, oh, ow)) * m, (n, c, kh, kw, oh, ow))
    cols = F.reshape(cols, (n, group, c // group, kh, kw, oh, ow))
    wg = F.reshape(w, (group, oc // group, c // group, kh, kw))
    y = F.reshape(einsum("ngcabhw,gocab->ngohw", cols, wg), (n, oc, oh, ow))
    if b is not None:
        y = y + F.reshape(b, (1, oc, 1, 1))
    return y
