"""Cases for ops/conv.py: convolution, transposed convolution and pooling, against direct numpy loops.

The references below loop over output positions (and, for the transposed convolution, scatter input by input),
written from the definitions rather than from the engine's im2col; tests/test_nn_conv.py reuses them.
"""
import itertools
import math

import numpy as np

import autocompyute as ac
from op_cases import Case, Distinct, U


def _t(v, nd):
    return (v,) * nd if isinstance(v, int) else tuple(v)


def ref_conv(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """Cross-correlation by a loop over (n, o, output position). padding: int, tuple, 'same' or 'valid'."""
    nd = w.ndim - 2
    unbatched = x.ndim == nd + 1
    if unbatched:
        x = x[None]
    stride, dilation, kernel = _t(stride, nd), _t(dilation, nd), w.shape[2:]
    if padding == "same":
        total = [d * (k - 1) for d, k in zip(dilation, kernel)]
        pads = [(t // 2, t - t // 2) for t in total]
    elif padding == "valid":
        pads = [(0, 0)] * nd
    else:
        pads = [(p, p) for p in _t(padding, nd)]
    xp = np.pad(x, [(0, 0), (0, 0)] + pads)
    n, c = x.shape[:2]
    o_ch, cg = w.shape[0], c // groups
    og = o_ch // groups
    out = [(xp.shape[2 + i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1 for i in range(nd)]
    y = np.zeros((n, o_ch, *out))
    for i, o in itertools.product(range(n), range(o_ch)):
        g = o // og
        for pos in itertools.product(*(range(s) for s in out)):
            win = tuple(slice(p * s, p * s + d * (k - 1) + 1, d) for p, s, d, k in zip(pos, stride, dilation, kernel))
            y[(i, o) + pos] = np.sum(xp[(i, slice(g * cg, (g + 1) * cg)) + win] * w[o])
    if b is not None:
        y += b.reshape((-1,) + (1,) * nd)
    return y[0] if unbatched else y


def ref_conv_transpose(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed convolution by scattering every input element times the kernel into the output."""
    nd = w.ndim - 2
    stride, padding, dilation = _t(stride, nd), _t(padding, nd), _t(dilation, nd)
    output_padding, kernel = _t(output_padding, nd), w.shape[2:]
    n, c = x.shape[:2]
    cg, og = c // groups, w.shape[1]
    size = [(s - 1) * st - 2 * p + d * (k - 1) + op + 1 for s, st, p, d, k, op in
            zip(x.shape[2:], stride, padding, dilation, kernel, output_padding)]
    full = np.zeros((n, og * groups) + tuple(s + 2 * p for s, p in zip(size, padding)))
    for i, ci in itertools.product(range(n), range(c)):
        g = ci // cg
        for pos in itertools.product(*(range(s) for s in x.shape[2:])):
            win = tuple(slice(p * s, p * s + d * (k - 1) + 1, d) for p, s, d, k in zip(pos, stride, dilation, kernel))
            full[(i, slice(g * og, (g + 1) * og)) + win] += x[(i, ci) + pos] * w[ci]
    y = full[(...,) + tuple(slice(p, p + s) for p, s in zip(padding, size))]
    if b is not None:
        y = y + b.reshape((-1,) + (1,) * nd)
    return y


def _pool_out(s, k, st, p, d, ceil_mode):
    span = s + 2 * p - d * (k - 1) - 1
    o = (math.ceil(span / st) if ceil_mode else span // st) + 1
    if ceil_mode and (o - 1) * st >= s + p:
        o -= 1
    return o


def ref_max_pool(x, kernel, stride=None, padding=0, dilation=1, ceil_mode=False, nd=2, indices=False):
    """Max over each window's in-bounds elements, by a loop over output positions; flat argmax if `indices`."""
    kernel = _t(kernel, nd)
    stride = kernel if stride is None else _t(stride, nd)
    padding, dilation = _t(padding, nd), _t(dilation, nd)
    spatial = x.shape[-nd:]
    out = [_pool_out(*a, ceil_mode) for a in zip(spatial, kernel, stride, padding, dilation)]
    lead = x.shape[:-nd]
    y, idx = np.zeros(lead + tuple(out)), np.zeros(lead + tuple(out), np.int64)
    for pos in itertools.product(*(range(o) for o in out)):
        coords = [[p * s - pd + k * d for k in range(kk)] for p, s, pd, d, kk in
                  zip(pos, stride, padding, dilation, kernel)]
        coords = [[c for c in cs if 0 <= c < size] for cs, size in zip(coords, spatial)]
        flat = [np.ravel_multi_index(c, spatial) for c in itertools.product(*coords)]
        vals = x.reshape(lead + (-1,))[..., flat]
        y[(...,) + pos] = vals.max(-1)
        idx[(...,) + pos] = np.asarray(flat)[vals.argmax(-1)]
    return (y, idx) if indices else y


def ref_avg_pool(x, kernel, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None,
                 nd=2):
    """PyTorch's average pooling: windows clipped to the padded input for the count, to the input for the sum."""
    kernel = _t(kernel, nd)
    stride = kernel if stride is None else _t(stride, nd)
    padding = _t(padding, nd)
    spatial = x.shape[-nd:]
    out = [_pool_out(*a, 1, ceil_mode) for a in zip(spatial, kernel, stride, padding)]
    y = np.zeros(x.shape[:-nd] + tuple(out))
    for pos in itertools.product(*(range(o) for o in out)):
        starts = [p * s - pd for p, s, pd in zip(pos, stride, padding)]
        ends = [min(st + k, s + pd) for st, k, s, pd in zip(starts, kernel, spatial, padding)]
        pool_size = math.prod(e - s for s, e in zip(starts, ends))
        starts = [max(s, 0) for s in starts]
        ends = [min(e, s) for e, s in zip(ends, spatial)]
        total = x[(...,) + tuple(slice(s, e) for s, e in zip(starts, ends))].sum(axis=tuple(range(-nd, 0)))
        count = divisor_override or (pool_size if count_include_pad else math.prod(e - s for s, e in
                                                                                   zip(starts, ends)))
        y[(...,) + pos] = total / count
    return y


def ref_adaptive_avg_pool(x, output_size):
    nd = len(output_size)
    spatial = x.shape[-nd:]
    y = np.zeros(x.shape[:-nd] + tuple(output_size))
    for pos in itertools.product(*(range(o) for o in output_size)):
        win = tuple(slice(i * s // o, -(-(i + 1) * s // o)) for i, s, o in zip(pos, spatial, output_size))
        y[(...,) + pos] = x[(...,) + win].mean(axis=tuple(range(-nd, 0)))
    return y


F = ac.functional

CASES = [
    # ---- convolution ----
    Case("conv2d", lambda x, w, b: F.conv2d(x, w, b), (U(2, 3, 6, 5), U(4, 3, 3, 3), U(4)), ref_conv),
    Case("conv2d_stride_pad", lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
         (U(2, 3, 7, 6), U(4, 3, 3, 3), U(4)), lambda x, w, b: ref_conv(x, w, b, 2, 1)),
    Case("conv2d_tuple_args", lambda x, w: F.conv2d(x, w, None, stride=(1, 2), padding=(2, 0), dilation=(2, 1)),
         (U(2, 2, 7, 8), U(3, 2, 3, 2)), lambda x, w: ref_conv(x, w, None, (1, 2), (2, 0), (2, 1))),
    Case("conv2d_dilation", lambda x, w, b: F.conv2d(x, w, b, dilation=2, padding=2),
         (U(1, 2, 7, 7), U(3, 2, 3, 3), U(3)), lambda x, w, b: ref_conv(x, w, b, 1, 2, 2)),
    Case("conv2d_groups", lambda x, w, b: F.conv2d(x, w, b, groups=2, stride=(2, 1)),
         (U(2, 4, 6, 5), U(6, 2, 2, 3), U(6)), lambda x, w, b: ref_conv(x, w, b, (2, 1), 0, 1, 2)),
    Case("conv2d_depthwise", lambda x, w, b: F.conv2d(x, w, b, padding=1, groups=4),
         (U(2, 4, 5, 5), U(8, 1, 3, 3), U(8)), lambda x, w, b: ref_conv(x, w, b, 1, 1, 1, 4)),
    Case("conv2d_same_even_kernel", lambda x, w: F.conv2d(x, w, padding="same", dilation=(1, 2)),
         (U(2, 2, 5, 6), U(3, 2, 2, 4)), lambda x, w: ref_conv(x, w, None, 1, "same", (1, 2))),
    Case("conv2d_valid_unbatched", lambda x, w: F.conv2d(x, w, padding="valid"),
         (U(3, 5, 4), U(2, 3, 2, 2)), lambda x, w: ref_conv(x, w, None, 1, "valid")),
    Case("conv2d_1x1", lambda x, w: F.conv2d(x, w), (U(2, 5, 3, 3), U(4, 5, 1, 1)), ref_conv),
    Case("conv1d_1x1_bias_unbatched", lambda x, w, b: F.conv1d(x, w, b), (U(5, 7), U(3, 5, 1), U(3)), ref_conv),
    Case("conv2d_1x1_strided", lambda x, w: F.conv2d(x, w, stride=2), (U(2, 3, 5, 4), U(4, 3, 1, 1)),
         lambda x, w: ref_conv(x, w, None, 2)),
    Case("conv1d", lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2),
         (U(2, 3, 11), U(4, 3, 3), U(4)), lambda x, w, b: ref_conv(x, w, b, 2, 1, 2)),
    Case("conv1d_same_groups", lambda x, w: F.conv1d(x, w, padding="same", groups=3),
         (U(2, 3, 7), U(6, 1, 4)), lambda x, w: ref_conv(x, w, None, 1, "same", 1, 3)),
    Case("conv3d", lambda x, w, b: F.conv3d(x, w, b, stride=(1, 2, 1), padding=1),
         (U(1, 2, 4, 5, 3), U(3, 2, 2, 3, 2), U(3)), lambda x, w, b: ref_conv(x, w, b, (1, 2, 1), 1)),
    Case("conv2d_few_weights_per_output", lambda x, w, b: F.conv2d(x, w, b, padding=1),
         (U(2, 1, 6, 5), U(6, 1, 2, 2), U(6)), lambda x, w, b: ref_conv(x, w, b, 1, 1)),
    Case("conv3d_stride1_grid", lambda x, w: F.conv3d(x, w, padding=(1, 0, 1), dilation=(1, 2, 1)),
         (U(2, 3, 4, 6, 3), U(2, 3, 2, 2, 3)), lambda x, w: ref_conv(x, w, None, 1, (1, 0, 1), (1, 2, 1))),
    # ---- transposed convolution ----
    Case("conv_transpose2d", lambda x, w, b: F.conv_transpose2d(x, w, b), (U(2, 3, 4, 3), U(3, 2, 3, 2), U(2)),
         ref_conv_transpose),
    Case("conv_transpose2d_stride_pad_outpad",
         lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
         (U(2, 3, 4, 3), U(3, 2, 3, 3), U(2)), lambda x, w, b: ref_conv_transpose(x, w, b, 2, 1, 1)),
    Case("conv_transpose2d_groups_dilation",
         lambda x, w: F.conv_transpose2d(x, w, stride=(2, 1), padding=(0, 1), groups=2, dilation=(1, 2)),
         (U(2, 4, 3, 4), U(4, 3, 2, 3)), lambda x, w: ref_conv_transpose(x, w, None, (2, 1), (0, 1), 0, 2, (1, 2))),
    Case("conv_transpose2d_outpad_below_dilation",
         lambda x, w: F.conv_transpose2d(x, w, stride=1, output_padding=1, dilation=2),
         (U(1, 2, 3, 3), U(2, 2, 2, 2)), lambda x, w: ref_conv_transpose(x, w, None, 1, 0, 1, 1, 2)),
    Case("conv_transpose1d", lambda x, w, b: F.conv_transpose1d(x, w, b, stride=3, padding=1),
         (U(2, 2, 5), U(2, 3, 4), U(3)), lambda x, w, b: ref_conv_transpose(x, w, b, 3, 1)),
    # ---- pooling (distinct values: no ties) ----
    Case("max_pool2d", lambda x: F.max_pool2d(x, 2), (Distinct(2, 3, 6, 6),), lambda x: ref_max_pool(x, 2)),
    Case("max_pool2d_stride_pad", lambda x: F.max_pool2d(x, 3, stride=2, padding=1),
         (Distinct(2, 2, 7, 6),), lambda x: ref_max_pool(x, 3, 2, 1)),
    Case("max_pool2d_dilation_ceil", lambda x: F.max_pool2d(x, (2, 3), stride=2, dilation=(2, 1), ceil_mode=True),
         (Distinct(1, 2, 8, 7),), lambda x: ref_max_pool(x, (2, 3), 2, 0, (2, 1), True)),
    Case("max_pool2d_ceil_pad", lambda x: F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True),
         (Distinct(2, 2, 6, 5),), lambda x: ref_max_pool(x, 3, 2, 1, 1, True)),
    Case("max_pool2d_tiled_pad_ceil", lambda x: F.max_pool2d(x, 2, padding=(1, 0), ceil_mode=True),
         (Distinct(2, 2, 6, 7),), lambda x: ref_max_pool(x, 2, None, (1, 0), 1, True)),
    Case("max_pool2d_indices", lambda x: F.max_pool2d(x, 3, stride=2, padding=1, return_indices=True),
         (Distinct(2, 2, 5, 6),), lambda x: ref_max_pool(x, 3, 2, 1, indices=True)),
    Case("max_pool2d_unbatched", lambda x: F.max_pool2d(x, 2, stride=1), (Distinct(2, 4, 3),),
         lambda x: ref_max_pool(x, 2, 1)),
    Case("max_pool1d", lambda x: F.max_pool1d(x, 3, stride=2, padding=1, ceil_mode=True),
         (Distinct(2, 3, 8),), lambda x: ref_max_pool(x, 3, 2, 1, 1, True, nd=1)),
    Case("max_pool1d_dilation_indices", lambda x: F.max_pool1d(x, 2, dilation=3, return_indices=True),
         (Distinct(2, 2, 9),), lambda x: ref_max_pool(x, 2, None, 0, 3, nd=1, indices=True)),
    Case("avg_pool2d", lambda x: F.avg_pool2d(x, 2), (U(2, 3, 6, 4),), lambda x: ref_avg_pool(x, 2)),
    Case("avg_pool2d_pad", lambda x: F.avg_pool2d(x, 3, stride=2, padding=1),
         (U(2, 2, 7, 6),), lambda x: ref_avg_pool(x, 3, 2, 1)),
    Case("avg_pool2d_pad_exclude", lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False),
         (U(2, 2, 7, 6),), lambda x: ref_avg_pool(x, 3, 2, 1, count_include_pad=False)),
    Case("avg_pool2d_ceil", lambda x: F.avg_pool2d(x, (3, 2), stride=2, padding=1, ceil_mode=True),
         (U(1, 2, 6, 7),), lambda x: ref_avg_pool(x, (3, 2), 2, 1, True)),
    Case("avg_pool2d_ceil_exclude", lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True,
                                                           count_include_pad=False),
         (U(1, 2, 6, 5),), lambda x: ref_avg_pool(x, 3, 2, 1, True, False)),
    Case("avg_pool2d_divisor", lambda x: F.avg_pool2d(x, 2, stride=1, divisor_override=3),
         (U(2, 3, 4),), lambda x: ref_avg_pool(x, 2, 1, divisor_override=3)),
    Case("avg_pool1d", lambda x: F.avg_pool1d(x, 3, stride=2, padding=1, ceil_mode=True),
         (U(2, 3, 8),), lambda x: ref_avg_pool(x, 3, 2, 1, True, nd=1)),
    Case("adaptive_avg_pool2d_global", lambda x: F.adaptive_avg_pool2d(x, 1), (U(2, 3, 5, 4),),
         lambda x: ref_adaptive_avg_pool(x, (1, 1))),
    Case("adaptive_avg_pool2d_uneven", lambda x: F.adaptive_avg_pool2d(x, (3, 2)), (U(2, 2, 7, 5),),
         lambda x: ref_adaptive_avg_pool(x, (3, 2))),
    Case("adaptive_avg_pool2d_upsample_none", lambda x: F.adaptive_avg_pool2d(x, (5, None)), (U(2, 3, 4),),
         lambda x: ref_adaptive_avg_pool(x, (5, 4))),
    Case("adaptive_avg_pool1d", lambda x: F.adaptive_avg_pool1d(x, 4), (U(2, 3, 10),),
         lambda x: ref_adaptive_avg_pool(x, (4,))),
]
