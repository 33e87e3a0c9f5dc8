"""Pooling in its general ONNX form, as gathers: window positions for any pads (asymmetric, wider than half
the kernel), dilations, ceil_mode and auto_pad, then max (with Indices in either storage order), average
(count_include_pad) or Lp over them. conv.py's rules use the engine's pooling Ops where they apply and these
forms for the rest."""
import math

import numpy as np

import autocompyute.functional as F
from autocompyute.ops.onnx_ops import gather_map

from ._import_util import const, scalar_like, values


def same_split(total, auto_pad):
    """A total padding as (begin, end): SAME_UPPER puts the smaller half first, otherwise the larger."""
    small = total // 2
    return (small, total - small) if auto_pad == "SAME_UPPER" else (total - small, small)


def pool_geometry(spatial, kernel, strides, pads, dilations, auto_pad, ceil_mode):
    """Output sizes and the leading pads of each spatial dimension, as ONNX defines them."""
    nd = len(spatial)
    strides = strides or [1] * nd
    dilations = dilations or [1] * nd
    pads = pads or [0] * (2 * nd)
    outs, begins, ends = [], [], []
    for d in range(nd):
        size, k, s, dil = spatial[d], kernel[d], strides[d], dilations[d]
        span = (k - 1) * dil + 1
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            out = -(-size // s)
            total = max((out - 1) * s + span - size, 0)
            pb, pe = same_split(total, auto_pad)
        elif auto_pad == "VALID":
            out, pb, pe = (size - span) // s + 1, 0, 0
        else:
            pb, pe = pads[d], pads[d + nd]
            num = size + pb + pe - span
            out = (-(-num // s) if ceil_mode else num // s) + 1
            if ceil_mode and (out - 1) * s >= size + pb:
                out -= 1  # the last window would start in the padding at the end
        outs.append(out)
        begins.append(pb)
        ends.append(pe)
    return outs, begins, ends, strides, dilations


def windows(x, kernel, strides, pads, dilations, auto_pad, ceil_mode):
    """Flat positions (N, C, *out, K) of every window element, the mask of those inside the input, and the mask
    of those inside the padded input (what count_include_pad counts)."""
    n, c, spatial = x.shape[0], x.shape[1], list(x.shape[2:])
    nd = len(spatial)
    outs, begins, ends, strides, dilations = pool_geometry(spatial, kernel, strides, pads, dilations, auto_pad,
                                                            ceil_mode)
    flat = np.zeros([1] * (2 + nd) + [1] * nd, dtype=np.int64)
    inside = np.ones_like(flat, dtype=bool)
    padded = np.ones_like(flat, dtype=bool)
    step = 1
    for d in reversed(range(nd)):
        o = np.arange(outs[d])[:, None] * strides[d] - begins[d] + np.arange(kernel[d])[None, :] * dilations[d]
        shape = [1] * (2 + 2 * nd)
        shape[2 + d], shape[2 + nd + d] = outs[d], kernel[d]
        o = o.reshape(shape)
        inside = inside & (o >= 0) & (o < spatial[d])
        padded = padded & (o >= -begins[d]) & (o < spatial[d] + ends[d])
        flat = flat + np.clip(o, 0, max(spatial[d] - 1, 0)) * step
        step *= spatial[d]
    nc = (np.arange(n)[:, None] * c + np.arange(c)[None, :]).reshape([n, c] + [1] * (2 * nd)) * step
    full = [n, c] + outs + list(kernel)
    flat = np.broadcast_to(flat + nc, full).reshape([n, c] + outs + [-1])
    inside = np.broadcast_to(inside, full).reshape(flat.shape)
    padded = np.broadcast_to(padded, full).reshape(flat.shape)
    return flat, inside, padded, outs


def max_pool(x, kernel_shape, auto_pad="NOTSET", ceil_mode=0, dilations=None, pads=None, storage_order=0,
              strides=None):
    flat, inside, _, outs = windows(x, kernel_shape, strides, pads, dilations, auto_pad, ceil_mode)
    a = values(x).reshape(-1)
    low = -np.inf if a.dtype.kind == "f" else np.iinfo(a.dtype).min
    vals = np.where(inside, a[flat], low)
    k = np.argmax(vals, axis=-1)[..., None]
    chosen = np.take_along_axis(flat, k, axis=-1)[..., 0]
    y = gather_map([x], chosen) if x.dtype.kind == "f" else const(a[chosen], x)
    if storage_order:  # column-major positions within each (n, c) image
        spatial = x.shape[2:]
        per = math.prod(spatial)
        base, rem = np.divmod(chosen, per)
        coords = np.unravel_index(rem, spatial)
        col, mul = np.zeros_like(rem), 1
        for d in range(len(spatial)):
            col = col + coords[d] * mul
            mul *= spatial[d]
        chosen = base * per + col
    return y, const(chosen.astype(np.int64), x)


def avg_pool(x, kernel_shape, auto_pad="NOTSET", ceil_mode=0, count_include_pad=0, dilations=None, pads=None,
              strides=None):
    flat, inside, padded, _ = windows(x, kernel_shape, strides, pads, dilations, auto_pad, ceil_mode)
    counted = padded if count_include_pad else inside
    weight = inside / np.maximum(counted.sum(-1, keepdims=True), 1)
    return gather_map([x], flat, weight.astype(x.dtype))


def lp_pool(x, kernel_shape, auto_pad="NOTSET", ceil_mode=0, dilations=None, p=2, pads=None, strides=None):
    flat, inside, _, _ = windows(x, kernel_shape, strides, pads, dilations, auto_pad, ceil_mode)
    flat = np.where(inside, flat, x.numel())  # outside: an extra zero
    win = gather_map([x, scalar_like(x, 0)], flat)
    return F.sum(F.abs(win) ** float(p), -1) ** (1.0 / p)
