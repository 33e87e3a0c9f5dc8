"""Resize in its general ONNX form: separable, one (out x in) interpolation matrix per resized axis, for every
mode (nearest, linear, cubic), coordinate transformation (including tf_crop_and_resize and its extrapolation),
antialiasing, exclude_outside and keep_aspect_ratio_policy. conv.py's rules take a direct gather or blend for
plain nearest and linear resizing, and this form for the rest."""
import math

import numpy as np

import autocompyute.functional as F

from ..errors import OnnxImportError
from . import safety
from ._import_util import axes as wrap_axes, check_alloc, const, ints, scalar_like, values


def _nearest_weights(ratio, nearest_mode):
    if ratio == 1.0:
        return [0.0, 1.0]
    up = {"round_prefer_floor": ratio > 0.5, "round_prefer_ceil": ratio >= 0.5, "floor": False,
          "ceil": True}[nearest_mode]
    return [0.0, 1.0] if up else [1.0, 0.0]


def _cubic_weights(ratio, a):
    def w(t):
        t = abs(t)
        if t <= 1:
            return (a + 2) * t ** 3 - (a + 3) * t ** 2 + 1
        return a * t ** 3 - 5 * a * t ** 2 + 8 * a * t - 4 * a if t < 2 else 0.0
    return [w(1 + ratio), w(ratio), w(1 - ratio), w(2 - ratio)]


def _antialias_weights(ratio, scale, support, kernel):
    """A kernel of `support` widened by 1/scale when downsampling, normalised to sum to one."""
    scale = min(scale, 1.0)
    start = math.floor(-support / scale) + 1
    if kernel is None:  # linear: the triangle
        kernel = lambda t: max(0.0, 1 - abs(t))  # noqa: E731
    ws = [kernel(scale * (i - ratio)) for i in range(start, 2 - start)]
    total = sum(ws)
    return [v / total for v in ws]


def _resize_matrix(n_in, n_out, scale, mode, coord, nearest_mode, cubic_a, exclude_outside, antialias, roi):
    """(n_out, n_in) weights, and the mask of outputs that extrapolate (tf_crop_and_resize outside the roi)."""
    length = scale * n_in
    m = np.zeros((n_out, n_in))
    outside = np.zeros(n_out, dtype=bool)
    for i in range(n_out):
        if coord == "align_corners":
            x = 0.0 if length == 1 else i * (n_in - 1) / (length - 1)
        elif coord == "asymmetric":
            x = i / scale
        elif coord == "tf_crop_and_resize":
            lo, hi = roi
            x = (hi - lo) * (n_in - 1) / 2 if length == 1 else i * (hi - lo) * (n_in - 1) / (length - 1)
            x += lo * (n_in - 1)
            if x < 0 or x > n_in - 1:
                outside[i] = True
                continue
        elif coord == "pytorch_half_pixel":
            x = -0.5 if length == 1 else (i + 0.5) / scale - 0.5
        elif coord == "half_pixel_symmetric":
            offset = n_in / 2 * (1 - n_out / length)
            x = offset + (i + 0.5) / scale - 0.5
        else:  # half_pixel
            x = (i + 0.5) / scale - 0.5
        base = math.floor(x)
        ratio = 1.0 if x == base else x - base
        if mode == "nearest":
            ws = _nearest_weights(ratio, nearest_mode)
        elif mode == "linear":
            ws = _antialias_weights(ratio, scale, 1, None) if antialias else [1 - ratio, ratio]
        else:
            cubic = lambda t: _cubic_weights(t, cubic_a)[1] if abs(t) <= 1 else _cubic_weights(abs(t) - 1, cubic_a)[0]  # noqa: E731
            ws = _antialias_weights(ratio, scale, 2, cubic) if antialias else _cubic_weights(ratio, cubic_a)
        n = len(ws)
        pad = math.ceil(n / 2)
        frac = (x + pad) - math.floor(x + pad)
        if n % 2 == 0:
            start = math.floor(x + pad) + (-(n // 2) if frac == 0 else -(n // 2) + 1) - pad
        else:
            start = math.floor(x + pad) + (-((n - 1) // 2) + (frac > 0.5)) - pad
        idx = np.arange(start, start + n)
        ws = np.asarray(ws, dtype=np.float64)
        if exclude_outside:
            ws = np.where((idx < 0) | (idx >= n_in), 0.0, ws)
            ws = ws / (ws.sum() or 1.0)
        np.add.at(m[i], np.clip(idx, 0, n_in - 1), ws)
    return m, outside


def _interpolate(x, m):
    """x (..., n_in) resized along its last axis by weights m (n_out, n_in). A matmul by m where x is finite; else
    each output sums only the inputs it weighs, one term per tap (the matmul would add inf * 0 = nan from every
    inf or nan an output does not read, which onnxruntime never touches; per tap, the backward is 2-3x slower)."""
    taps = [np.flatnonzero(row) for row in m]
    k = max(map(len, taps), default=0)
    if k == 0 or x.xp.isfinite(x.data).all():
        return F.matmul(x, const(m.T.astype(x.dtype), x))
    index, weight = np.zeros((len(m), k), np.int64), np.zeros((len(m), k), x.dtype)
    for i, (cols, row) in enumerate(zip(taps, m)):
        index[i, :len(cols)], weight[i, :len(cols)] = cols, row[cols]
    z = None
    for j in range(k):
        term = x[..., index[:, j]] * const(weight[:, j], x)
        if not weight[:, j].all():  # a padding tap of weight 0: it reads nothing
            term = F.where(const(weight[:, j] != 0, x), term, scalar_like(x, 0))
        z = term if z is None else z + term
    return z


def resize_lists(axes, scales, sizes):
    """The sizes (ints) or else the scales (floats) a Resize node gives, checked: one per axis in `axes`, sizes
    non-negative, scales finite and positive. Returns (sizes, None) or (None, scales)."""
    if sizes is not None and sizes.numel():
        want = ints(sizes)
        if len(want) != len(axes) or any(w < 0 for w in want):
            raise OnnxImportError(f"Resize: sizes {want} must be {len(axes)} non-negative sizes for axes {axes}")
        return want, None
    vals = [float(v) for v in values(scales).reshape(-1)]
    if len(vals) != len(axes) or not all(math.isfinite(v) and v > 0 for v in vals):
        raise OnnxImportError(f"Resize: scales {vals} must be {len(axes)} finite positive factors for axes {axes}")
    return None, vals


def resize(x, roi, scales, sizes, *, mode="nearest", coordinate_transformation_mode="half_pixel",
            nearest_mode="round_prefer_floor", cubic_coeff_a=-0.75, exclude_outside=0, extrapolation_value=0.0,
            antialias=0, axes=None, keep_aspect_ratio_policy="stretch"):
    if mode not in ("nearest", "linear", "cubic"):
        raise OnnxImportError(f"Resize: mode {mode!r} is none of nearest, linear, cubic")
    r = x.ndim
    axes = list(range(r)) if axes is None else wrap_axes(axes, r)
    roi = None if roi is None or roi.numel() == 0 else [float(v) for v in values(roi).reshape(-1)]
    if roi is not None and len(roi) == 2 * len(axes) and len(axes) != r:
        full = [0.0] * r + [1.0] * r
        for i, d in enumerate(axes):
            full[d], full[r + d] = roi[i], roi[len(axes) + i]
        roi = full
    factor = [1.0] * r
    out = list(x.shape)
    want, vals = resize_lists(axes, scales, sizes)
    if want is not None:
        for i, d in enumerate(axes):
            factor[d] = want[i] / x.shape[d]
            out[d] = want[i]
        if keep_aspect_ratio_policy != "stretch":
            pick = min if keep_aspect_ratio_policy == "not_larger" else max
            s = pick(factor[d] for d in axes)
            for d in axes:
                factor[d], out[d] = s, int(s * x.shape[d] + 0.5)
    else:
        for i, d in enumerate(axes):
            factor[d] = vals[i]
            out[d] = int(math.floor(vals[i] * x.shape[d]))
    check_alloc(out, np.float32, "Resize")
    y = x if x.dtype.kind == "f" else F.cast(x, np.float32)
    for d in axes:
        unchanged = out[d] == x.shape[d] and math.isclose(factor[d], 1.0) and (
            roi is None or (roi[d] == 0.0 and roi[d + r] == 1.0))
        if unchanged:
            continue
        check_alloc((out[d], x.shape[d]), np.float64, "Resize (interpolation matrix)")
        if out[d] > safety.LIMITS["max_interpolated_axis"]:
            raise safety.UnsafeModelError(
                f"Resize ({mode}): an output axis of {out[d]:,} exceeds the limit of "
                f"{safety.LIMITS['max_interpolated_axis']:,} for this form (safety.LIMITS['max_interpolated_axis'])")
        m, outside = _resize_matrix(x.shape[d], out[d], factor[d], mode, coordinate_transformation_mode,
                                    nearest_mode, cubic_coeff_a, exclude_outside, antialias,
                                    None if roi is None else (roi[d], roi[d + r]))
        moved = F.permute(y, [k for k in range(r) if k != d] + [d])
        z = _interpolate(moved, m)
        if outside.any():
            z = F.where(const(outside, y), const(np.asarray(extrapolation_value, y.dtype), y), z)
        back = list(range(r - 1))
        back.insert(d, r - 1)
        y = F.permute(z, back)
    if not x.dtype.kind == "f":
        y = const(np.clip(np.round(values(y)), np.iinfo(x.dtype).min, np.iinfo(x.dtype).max).astype(x.dtype), x)
    return y
