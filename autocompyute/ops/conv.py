"""Convolution and pooling over 1-D, 2-D (and N-D) inputs, all through strided views of the padded input.

Layouts follow PyTorch: inputs (N, C, *S), conv weights (O, C/groups, *K), transposed-conv weights
(C, O/groups, *K). A convolution copies the sliding windows of a chunk of samples into one (G, C/G*K, n*P) matrix
("im2col": rows are (channel, kernel offset), columns (sample, output position)) and multiplies it by the weight
(G, O/G, C/G*K) in ONE GEMM per group: a GEMM per sample is too small for BLAS to use its threads. The product
(G, O/G, n, P) is moved into (N, O, *P) order while the bias is added. The batch goes in chunks of about
CHUNK_BYTES of unrolled windows, and the op keeps its padded input rather than the windows for the backward, which
unrolls each chunk again: the full unrolled matrix never exists. The input gradient is a GEMM and the reverse
scatter (a loop over the K kernel offsets, each adding one slice in place). With stride 1 (and C/G*K >= O/G) the
columns run along the padded input's own flat grid instead, whose copy moves long runs; the GEMM also computes the
windows that wrap past the output's width, which are cropped. With fewer weights per output than outputs
(C/G*K < O/G, as in a first layer on a 1-channel image) the output is the big array: a GEMM per sample writes it
in place, and the backward reads dy as it is. A 1x1 convolution with stride 1 skips the copies.
A transposed convolution is the same pair of helpers used the other way round. Pooling loops over the kernel
offsets the same way, each step one elementwise op on a strided view.
"""
import itertools
import math

from .. import backends
from ..errors import ShapeError
from ..parallel import get_num_threads, parallel_for
from .base import Op


# ---- helpers shared by convolution, transposed convolution and pooling ----
def out_size(size, kernel, stride, dilation, pad_total):
    """Number of windows along one dimension."""
    return (size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


def pad(xp, x, pads, value=0):
    """x (N, C, *S) padded by `pads` ((lo, hi) per spatial dim) with `value`; x itself when nothing to pad."""
    if not any(lo or hi for lo, hi in pads):
        return x
    nd = len(pads)
    shape = x.shape[:-nd] + tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[-nd:], pads))
    out = xp.full(shape, value, dtype=x.dtype)
    out[(...,) + tuple(slice(lo, lo + s) for s, (lo, _) in zip(x.shape[-nd:], pads))] = x
    return out


def crop(x, pads):
    """The inverse of `pad`: drop `pads` ((lo, hi) per spatial dim) from the last dims of x."""
    if not any(lo or hi for lo, hi in pads):
        return x
    nd = len(pads)
    return x[(...,) + tuple(slice(lo, s - hi) for s, (lo, hi) in zip(x.shape[-nd:], pads))]


def windows(xp, x, out_shape, kernel, stride, dilation):
    """The sliding windows of x (*lead, *S) as one strided view (*lead, *out_shape, *kernel); no copy."""
    nd = len(kernel)
    spatial = x.strides[-nd:]
    shape = x.shape[:-nd] + tuple(out_shape) + tuple(kernel)
    strides = (x.strides[:-nd] + tuple(st * s for st, s in zip(spatial, stride))
               + tuple(st * d for st, d in zip(spatial, dilation)))
    return backends.as_strided(xp, x, shape, strides)


def kernel_slices(out_shape, kernel, stride, dilation):
    """For each kernel offset k: the strided slice of the (padded) input that offset k of every window reads."""
    for k in itertools.product(*(range(n) for n in kernel)):
        yield (...,) + tuple(slice(ki * d, ki * d + s * (o - 1) + 1, s)
                             for ki, d, s, o in zip(k, dilation, stride, out_shape))


# The batch goes through a convolution in chunks whose unrolled windows take about this many bytes: big enough
# that each chunk's GEMM is large (BLAS runs it on all its threads), small enough that the copy is still in cache
# when the GEMM reads it, and the full unrolled matrix never exists at once.
CHUNK_BYTES = 1 << 20


def batch_chunks(n, bytes_per_sample):
    """Slices of a batch of n whose unrolled windows take about CHUNK_BYTES each (at least one sample), and at
    least as many as there are intra-op threads to share them."""
    step = max(1, min(CHUNK_BYTES // max(1, bytes_per_sample), -(-n // get_num_threads())))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


# A chunk's unrolled windows ("columns") are laid out (G, C/G*K, n, *X): rows are (channel, kernel offset),
# columns (sample, position), so ONE GEMM per group with the weight (G, O/G, C/G*K) covers the whole chunk, where a
# GEMM per sample would be too small for BLAS to use more than one thread. X is either the output positions
# (`unroll`) or, for stride 1, whole rows of the padded input's own grid (`unroll_grid`), whose copy moves long
# contiguous runs; the GEMM then also computes the wrapped windows past the output's width, which are cropped.
def unroll(xp, x, groups, out_shape, kernel, stride, dilation):
    """x (n, C, *S), already padded -> contiguous columns (G, C/G*K, n*P), P = prod(out_shape)."""
    n, nd = x.shape[0], len(kernel)
    win = windows(xp, x, out_shape, kernel, stride, dilation)                      # (n, C, *O, *K)
    order = (1,) + tuple(range(2 + nd, 2 + 2 * nd)) + (0,) + tuple(range(2, 2 + nd))
    cols = xp.ascontiguousarray(win.transpose(order))                               # (C, *K, n, *O)
    return cols.reshape(groups, x.shape[1] // groups * math.prod(kernel), n * math.prod(out_shape))


def grid_shape(out_shape, spatial):
    """The positions a stride-1 grid GEMM computes per sample: out_shape[0] whole rows of the padded grid."""
    return (out_shape[0],) + tuple(spatial[1:])


def flat_spatial(a):
    """a (N, C, *S) as (N, C, prod S): sizes, not -1, so that an empty batch reshapes too."""
    return a.reshape(a.shape[:2] + (math.prod(a.shape[2:]),))


def unroll_grid(xp, x, groups, out_shape, kernel, dilation):
    """Columns for stride 1 along x's own flat grid: x (n, C, *S) contiguous, padded, with one spare row at the end
    of the first spatial dim (2-D and up) so that the wrapped windows of the last rows stay inside the array
    -> (G, C/G*K, n*R), R = prod(grid_shape). Column (sample, j) holds the window at flat grid position j."""
    n, c, spatial = x.shape[0], x.shape[1], x.shape[2:]
    flat = flat_spatial(x)                                                          # (n, C, prod S)
    steps = [math.prod(spatial[i + 1:]) * flat.strides[2] for i in range(len(spatial))]
    length = math.prod(grid_shape(out_shape, spatial))
    view = backends.as_strided(xp, flat, (c,) + tuple(kernel) + (n, length),
                               (flat.strides[1],) + tuple(d * s for d, s in zip(dilation, steps))
                               + (flat.strides[0], flat.strides[2]))                 # (C, *K, n, R)
    return xp.ascontiguousarray(view).reshape(groups, -1, n * length)


def on_grid(xp, a, positions):
    """a (..., *O) copied into the first O positions of a new (..., *positions) grid array, the wrapped positions
    zero (a gradient for `unroll_grid`'s columns)."""
    nd = len(positions)
    out = xp.empty(a.shape[:-nd] + tuple(positions), dtype=a.dtype)
    out[(...,) + tuple(slice(m) for m in a.shape[-nd:])] = a
    for i in range(1, nd):  # (the first dim has no wrapped positions)
        out[(...,) + (slice(None),) * i + (slice(a.shape[-nd + i], None),) + (slice(None),) * (nd - 1 - i)] = 0
    return out


def fold(cols, image, out_shape, kernel, stride, dilation):
    """The adjoint of `unroll`: add cols (C, K, n, P) into image (n, C, *S), the padded input's shape, in place:
    one strided slice per kernel offset (a loop over offsets, never over elements)."""
    cols = cols.reshape(cols.shape[:3] + tuple(out_shape))
    for i, target in enumerate(kernel_slices(out_shape, kernel, stride, dilation)):
        image[target] += cols[:, i].swapaxes(0, 1)
    return image


def fold_grid(cols, image, kernel, dilation):
    """The adjoint of `unroll_grid`: add cols (C, K, n, R) into image (n, C, *S) (contiguous, with the spare row)
    in place, one flat slice per kernel offset. Wrapped columns must hold zeros."""
    spatial = image.shape[2:]
    flat, length = flat_spatial(image), cols.shape[-1]
    grid = [math.prod(spatial[i + 1:]) for i in range(len(spatial))]
    for i, k in enumerate(itertools.product(*(range(m) for m in kernel))):
        start = sum(ki * d * g for ki, d, g in zip(k, dilation, grid))
        flat[:, :, start:start + length] += cols[:, i].swapaxes(0, 1)
    return image


def per_sample(cols, n):
    """Columns (G, C/G*K, n*P) as one (C/G*K, P) matrix per sample and group: a (n, G, C/G*K, P) view."""
    return cols.reshape(cols.shape[:2] + (n, -1)).transpose(2, 0, 1, 3)


def outer_or_gemm(a, b):
    """a @ b for batched matrices; with an inner size of 1 (depthwise convolutions) it is an outer product, which a
    broadcast multiply does several times faster than a GEMM."""
    return a * b if a.shape[-1] == 1 else a @ b


def bias_grad(xp, dy):
    """dy (N, C, *S) summed over all dims but C: backends.last_axis_sum per sample, then over the batch (numpy's
    sum over several axes is about four times slower)."""
    return backends.last_axis_sum(xp, flat_spatial(dy))[..., 0].sum(axis=0)


def _unbatched(x, w):
    return x.ndim == w.ndim - 1


# ---- convolution ----
class Conv(Op):
    """y = conv(x, w) + b over len(stride) spatial dims. Attributes: stride, padding ((lo, hi) per dim),
    dilation, groups. Inputs x (N, C, *S) or unbatched (C, *S), w (O, C/groups, *K), optional b (O,)."""

    def forward(self, x, w, b=None):
        unbatched = _unbatched(x, w)
        if unbatched:
            x = x[None]
        self.save(w=w, unbatched=unbatched, has_bias=b is not None, pointwise=self._pointwise(w))
        y = self._forward_pointwise(x, w, b) if self.saved.pointwise else self._forward_windows(x, w, b)
        return y[0] if unbatched else y

    def _pointwise(self, w):
        """A 1x1 convolution with stride 1, no padding and one group is a GEMM per sample, with no copies."""
        return (self.groups == 1 and all(k == 1 for k in w.shape[2:]) and all(s == 1 for s in self.stride)
                and not any(lo or hi for lo, hi in self.padding))

    def _forward_pointwise(self, x, w, b):
        x3 = flat_spatial(x)                                                        # (N, C, P)
        y = w.reshape(w.shape[0], -1) @ x3                                          # (N, O, P)
        if b is not None:
            y += b.reshape(-1, 1)
        self.save(x3=x3)
        return y.reshape(y.shape[:2] + x.shape[2:])

    def _forward_windows(self, x, w, b):
        xp, kernel, g, nd = self.xp, w.shape[2:], self.groups, w.ndim - 2
        n, o = x.shape[0], w.shape[0]
        wg = w.reshape(g, o // g, -1)                                               # (G, O/G, C/G*K)
        out_shape = tuple(out_size(s, k, st, d, lo + hi) for s, k, st, d, (lo, hi) in
                          zip(x.shape[2:], kernel, self.stride, self.dilation, self.padding))
        # Few weights per output (C/G*K < O/G, a first layer on a 1-channel image, say): the output is the big
        # array, and a GEMM per sample writes it in place, where one GEMM per chunk would write it twice (its
        # product, then the move into (N, O, P) order). Otherwise one GEMM per chunk; with stride 1 on the grid,
        # whose longer copy runs save more than its extra (wrapped) positions cost.
        if wg.shape[2] < wg.shape[1]:
            mode = "per_sample"
        else:
            mode = "grid" if all(st == 1 for st in self.stride) else "chunk"
        pads = list(self.padding)
        if mode == "grid" and nd > 1:
            pads[0] = (pads[0][0], pads[0][1] + 1)                                  # the spare row
        xpad = xp.ascontiguousarray(pad(xp, x, pads))
        positions = grid_shape(out_shape, xpad.shape[2:]) if mode == "grid" else out_shape
        y = xp.empty((n, g, o // g) + out_shape, dtype=xp.result_type(x.dtype, w.dtype))
        bias = None if b is None else b.reshape((g, o // g) + (1,) * nd)
        per_sample_cols = x.shape[1] * math.prod(kernel) * math.prod(positions)
        chunks = batch_chunks(n, per_sample_cols * x.itemsize)

        def run(part):  # the chunks `part`, in intra-op threads when there are several
            for chunk in chunks[part]:
                if mode == "grid":
                    cols = unroll_grid(xp, xpad[chunk], g, out_shape, kernel, self.dilation)  # (G, C/G*K, n*R)
                else:                                                                       # (G, C/G*K, n*P)
                    cols = unroll(xp, xpad[chunk], g, out_shape, kernel, self.stride, self.dilation)
                if mode == "per_sample":
                    yc = y[chunk]                                                           # (n, G, O/G, *O)
                    xp.matmul(wg, per_sample(cols, len(yc)), out=yc.reshape(yc.shape[:3] + (-1,)))
                    if bias is not None:
                        yc += bias
                    continue
                r = (wg @ cols).reshape((g, o // g, -1) + positions)                # (G, O/G, n, *positions)
                r = xp.moveaxis(r[(...,) + tuple(slice(m) for m in out_shape)], 2, 0)  # (n, G, O/G, *O), a view
                if bias is None:
                    y[chunk] = r
                else:
                    xp.add(r, bias, out=y[chunk])

        parallel_for(xp, len(chunks), run, n * per_sample_cols)
        # the padded input, not its unrolled windows: the backward unrolls it again, chunk by chunk
        self.save(xpad=xpad, pads=pads, padded_shape=xpad.shape, out_shape=out_shape, mode=mode)
        return y.reshape((n, o) + out_shape)                                        # (N, O, *O)

    def backward(self, dy):
        s = self.saved
        if s.unbatched:
            dy = dy[None]
        dx, dw, db = self._backward_pointwise(dy) if s.pointwise else self._backward_windows(dy)
        if s.unbatched and dx is not None:
            dx = dx[0]
        return dx, dw, db

    def _backward_pointwise(self, dy):
        s, w = self.saved, self.saved.w
        dy3 = flat_spatial(dy)                                                      # (N, O, P)
        w2 = w.reshape(w.shape[0], -1)                                              # (O, C)
        dw = dx = None
        if self.input_needs_grad(1):
            dw = (dy3 @ s.x3.transpose(0, 2, 1)).sum(axis=0).reshape(w.shape)
        db = bias_grad(self.xp, dy3) if s.has_bias else None
        if self.input_needs_grad(0):
            dx = (w2.T @ dy3).reshape((dy.shape[0], w2.shape[1]) + dy.shape[2:])
        return dx, dw, db

    def _backward_windows(self, dy):
        xp, s = self.xp, self.saved
        g, w, kernel, n = self.groups, s.w, s.w.shape[2:], dy.shape[0]
        og = w.shape[0] // g
        wg = w.reshape(g, og, -1)                                                   # (G, O/G, C/G*K)
        db = bias_grad(xp, dy) if s.has_bias else None
        need_dw = self.input_needs_grad(1)
        dx = xp.zeros(s.padded_shape, dtype=dy.dtype) if self.input_needs_grad(0) else None  # (N, C, *padded S)
        xpad = s.xpad
        grid = s.mode == "grid"
        positions = grid_shape(s.out_shape, s.padded_shape[2:]) if grid else s.out_shape
        c, k = w.shape[1] * g, math.prod(kernel)
        chunks = batch_chunks(n, c * k * math.prod(positions) * dy.itemsize)
        partial_dw = {}  # each part's weight gradient, summed in order below

        def run(part):  # the chunks `part`, in intra-op threads when there are several
            dw = xp.zeros(wg.shape, dtype=dy.dtype) if need_dw else None
            for chunk in chunks[part]:
                if dw is not None:
                    if grid:
                        cols = unroll_grid(xp, xpad[chunk], g, s.out_shape, kernel, self.dilation)
                    else:
                        cols = unroll(xp, xpad[chunk], g, s.out_shape, kernel, self.stride, self.dilation)
                if s.mode == "per_sample":                    # dy as it is: a (O/G, P) matrix per sample and group
                    dys = dy[chunk].reshape(-1, g, og, math.prod(positions))            # (n, G, O/G, P), a view
                    if dw is not None:
                        dw += (dys @ per_sample(cols, len(dys)).swapaxes(-1, -2)).sum(axis=0)
                    if dx is not None:
                        dcols = outer_or_gemm(wg.swapaxes(1, 2), dys)               # (n, G, C/G*K, P)
                        fold(dcols.reshape(-1, c, k, dcols.shape[-1]).transpose(1, 2, 0, 3), dx[chunk],
                             s.out_shape, kernel, self.stride, self.dilation)
                    continue
                dyc = xp.moveaxis(dy[chunk].reshape((-1, g, og) + s.out_shape), 0, 2)  # (G, O/G, n, *O), a view
                buf = on_grid(xp, dyc, positions) if grid else xp.ascontiguousarray(dyc)  # (G, O/G, n, *X)
                dyc = buf.reshape(g, og, -1)                                        # (G, O/G, n*X)
                if dw is not None:
                    dw += (cols @ dyc.swapaxes(1, 2)).swapaxes(1, 2)  # (G, O/G, C/G*K); faster this way round
                if dx is not None:
                    dcols = outer_or_gemm(wg.swapaxes(1, 2), dyc).reshape(c, k, -1, math.prod(positions))
                    if grid:                                                        # dcols: (C, K, n, X)
                        fold_grid(dcols, dx[chunk], kernel, self.dilation)
                    else:
                        fold(dcols, dx[chunk], s.out_shape, kernel, self.stride, self.dilation)
            partial_dw[part.start] = dw

        parallel_for(xp, len(chunks), run, n * c * k * math.prod(positions))
        dw = None
        if need_dw:
            dw = partial_dw.pop(0)
            for start in sorted(partial_dw):
                dw += partial_dw[start]
        dw = None if dw is None else dw.reshape(w.shape)
        dx = None if dx is None else crop(dx, s.pads)
        return dx, dw, db


class ConvTranspose(Op):
    """y = conv_transpose(x, w) + b: the input-gradient of Conv, as a layer. Attributes: stride, padding
    ((lo, hi) per dim), output_padding, dilation, groups. x (N, C, *S), w (C, O/groups, *K), b (O,)."""

    def forward(self, x, w, b=None):
        xp = self.xp
        unbatched = _unbatched(x, w)
        if unbatched:
            x = x[None]
        n, spatial, kernel, g = x.shape[0], x.shape[2:], w.shape[2:], self.groups
        full = tuple((s - 1) * st + d * (k - 1) + 1 + op for s, st, d, k, op in
                     zip(spatial, self.stride, self.dilation, kernel, self.output_padding))
        cg = x.shape[1] // g
        p = math.prod(spatial)                                                      # (sizes, not -1: N may be 0)
        xt = xp.ascontiguousarray(xp.moveaxis(x.reshape(n, g, cg, p), 0, 2)).reshape(g, cg, n * p)  # (G, C/G, N*P)
        wg = w.reshape(g, cg, -1)                                                   # (G, C/G, O/G*K)
        cols = outer_or_gemm(wg.swapaxes(1, 2), xt)                                 # (G, O/G*K, N*P)
        y = xp.zeros((n, w.shape[1] * g) + full, dtype=cols.dtype)
        cols = cols.reshape(y.shape[1], math.prod(kernel), n, p)                   # (O, K, N, P)
        y = crop(fold(cols, y, spatial, kernel, self.stride, self.dilation), self.padding)
        if b is not None:
            y += b.reshape((-1,) + (1,) * len(kernel))
        self.save(xt=xt, w=w, spatial=spatial, unbatched=unbatched, has_bias=b is not None)
        return y[0] if unbatched else y

    def backward(self, dy):
        xp, s = self.xp, self.saved
        if s.unbatched:
            dy = dy[None]
        g, w, nd, n = self.groups, s.w, len(self.stride), dy.shape[0]
        dcols = unroll(xp, pad(xp, dy, self.padding), g, s.spatial, w.shape[2:], self.stride, self.dilation)
        dw = None                                                                   # dcols: (G, O/G*K, N*P)
        if self.input_needs_grad(1):
            dw = (s.xt @ dcols.swapaxes(1, 2)).reshape(w.shape)                     # (G, C/G, O/G*K)
        db = bias_grad(xp, dy) if s.has_bias else None
        dx = None
        if self.input_needs_grad(0):
            dxg = (w.reshape(g, w.shape[0] // g, -1) @ dcols).reshape((g, w.shape[0] // g, n) + tuple(s.spatial))
            dx = xp.moveaxis(dxg, 2, 0).reshape((n, w.shape[0]) + tuple(s.spatial))  # (N, C, *S)
            if s.unbatched:
                dx = dx[0]
        return dx, dw, db


# ---- pooling ----
def pool_geometry(spatial, kernel, stride, padding, dilation, ceil_mode):
    """Output sizes and (lo, hi) pads of a pooling window; ceil_mode adds room on the right for a last partial
    window, but never one that starts in the right padding."""
    out_shape, pads = [], []
    for s, k, st, p, d in zip(spatial, kernel, stride, padding, dilation):
        span = s + 2 * p - d * (k - 1) - 1
        o = (-(-span // st) if ceil_mode else span // st) + 1
        if ceil_mode and (o - 1) * st >= s + p:
            o -= 1
        out_shape.append(o)
        pads.append((p, max(p, (o - 1) * st + d * (k - 1) + 1 - s - p)))
    return tuple(out_shape), tuple(pads)


def _check_pool(name, x, kernel, padding, dilation=None):
    nd = len(kernel)
    if x.ndim not in (nd + 1, nd + 2):
        raise ShapeError(f"{name}: expected a {nd + 1}-D or {nd + 2}-D input, got shape {tuple(x.shape)}")
    if any(2 * p > k for p, k in zip(padding, kernel)):
        raise ShapeError(f"{name}: padding {padding} must be at most half of kernel_size {kernel}")
    dilation = dilation or (1,) * nd
    if any(s + 2 * p < d * (k - 1) + 1 for s, k, p, d in zip(x.shape[-nd:], kernel, padding, dilation)):
        raise ShapeError(f"{name}: input {tuple(x.shape)} (padding {padding}) is smaller than the window "
                         f"(kernel_size {kernel}, dilation {dilation})")


class MaxPool(Op):
    """Max over sliding windows. Attributes: kernel_size, stride, padding, dilation, ceil_mode (per spatial dim),
    return_indices (a second, integer output: flat positions in each input plane, as PyTorch gives them).
    The forward is a running maximum over the kernel offsets, one spatial dim at a time (one strided view per
    offset along that dim); which offset won (the first one at ties) is found again in the backward over the
    window's views, so the forward keeps no index array. Both split the batch over the intra-op threads."""

    def forward(self, x):
        xp, nd = self.xp, len(self.kernel_size)
        spatial = x.shape[-nd:]
        out_shape, pads = pool_geometry(spatial, self.kernel_size, self.stride, self.padding, self.dilation,
                                        self.ceil_mode)
        low = -xp.inf if x.dtype.kind == "f" else xp.iinfo(x.dtype).min
        xpad = pad(xp, x, pads, low)
        y = xp.empty(x.shape[:-nd] + out_shape, dtype=x.dtype)
        parallel_for(xp, len(y), lambda part: self._running_max(xpad[part], y[part], out_shape), xpad.size)
        slices = list(kernel_slices(out_shape, self.kernel_size, self.stride, self.dilation))
        self.save(xpad=xpad, y=y, slices=slices, pads=pads)
        if not self.return_indices:
            return y
        idx = xp.zeros(y.shape, dtype=xp.int64)
        for i, hit in enumerate(self._winners(xpad, y, slices)):
            idx[hit] = i
        return y, self._input_indices(idx, spatial, out_shape, pads)

    def _running_max(self, xpad, out, out_shape):
        """out[...] = the window maxima of xpad, one spatial dim at a time: a window's max is the max along dim i
        of the maxima along the dims before it (one strided view per kernel offset along dim i)."""
        xp, nd, y = self.xp, len(out_shape), xpad
        for i, (k, st, d, o) in enumerate(zip(self.kernel_size, self.stride, self.dilation, out_shape)):
            lead = (slice(None),) * (y.ndim - nd + i)
            rows = [y[lead + (slice(j * d, j * d + st * (o - 1) + 1, st),)] for j in range(k)]
            dest = out if i == nd - 1 else xp.empty(rows[0].shape, dtype=out.dtype)  # (..., *O[:i+1], *S[i+1:])
            if k == 1:
                dest[...] = rows[0]
            else:
                xp.maximum(rows[0], rows[1], out=dest)                      # NaN propagates, as in PyTorch
            for row in rows[2:]:
                xp.maximum(dest, row, out=dest)
            y = dest

    def _winners(self, xpad, y, slices):
        """For each kernel offset: where it holds the window's maximum and no earlier offset did (bool (..., *O))."""
        free = None
        for target in slices:
            hit = xpad[target] == y
            if free is None:
                free = ~hit
            else:
                hit &= free
                free ^= hit
            yield hit

    def _input_indices(self, idx, spatial, out_shape, pads):
        """Window-local argmax -> flat index into the unpadded input plane."""
        xp, nd = self.xp, len(spatial)
        offsets = xp.unravel_index(idx, self.kernel_size)
        flat = 0
        for i in range(nd):
            o = xp.arange(out_shape[i]).reshape((-1,) + (1,) * (nd - 1 - i))
            coord = o * self.stride[i] - pads[i][0] + offsets[i] * self.dilation[i]
            flat = flat * spatial[i] + coord
        return flat.astype(xp.int64)

    def backward(self, dy, didx=None):
        xp, s, nd = self.xp, self.saved, len(self.kernel_size)
        # windows that tile the padded input exactly (2x2 with stride 2, say) write each position once
        tiled = all(st == k and d == 1 and o * k == size for st, k, d, o, size in
                    zip(self.stride, self.kernel_size, self.dilation, dy.shape[-nd:], s.xpad.shape[-nd:]))
        dx = (xp.empty if tiled else xp.zeros)(s.xpad.shape, dtype=dy.dtype)

        def route(part):  # the gradient of a part of the batch (the leading dim) to its windows' winners
            for target, hit in zip(s.slices, self._winners(s.xpad[part], s.y[part], s.slices)):
                if tiled:
                    xp.multiply(dy[part], hit, out=dx[part][target])
                else:
                    dx[part][target] += dy[part] * hit

        parallel_for(xp, len(dx), route, dx.size * len(s.slices))
        return (crop(dx, s.pads),)


class AvgPool(Op):
    """Mean over sliding windows. Attributes: kernel_size, stride, padding, ceil_mode, count_include_pad,
    divisor_override. Like PyTorch, count_include_pad counts the zero padding but not the room ceil_mode adds."""

    def forward(self, x):
        xp, nd = self.xp, len(self.kernel_size)
        spatial = x.shape[-nd:]
        ones = (1,) * nd
        out_shape, pads = pool_geometry(spatial, self.kernel_size, self.stride, self.padding, ones,
                                        self.ceil_mode)
        xpad = pad(xp, x, pads)
        y = None
        for target in kernel_slices(out_shape, self.kernel_size, self.stride, ones):
            y = xpad[target].copy() if y is None else xp.add(y, xpad[target], out=y)
        divisor = self._divisor(spatial, out_shape, pads).astype(x.dtype)
        self.save(divisor=divisor, padded_shape=xpad.shape, out_shape=out_shape, pads=pads)
        return y / divisor

    def _divisor(self, spatial, out_shape, pads):
        """(*O) window sizes: a product of per-dimension counts of the positions that are counted."""
        xp = self.xp
        if self.divisor_override:
            return xp.full(out_shape, self.divisor_override)
        count = xp.ones(())
        for s, o, k, st, p, (lo, _) in zip(spatial, out_shape, self.kernel_size, self.stride, self.padding, pads):
            start = xp.arange(o) * st                                    # window starts in padded coordinates
            first, last = (lo - p, lo + s + p) if self.count_include_pad else (lo, lo + s)
            n = xp.minimum(start + k, last) - xp.maximum(start, first)
            count = count[..., None] * n
        return count

    def backward(self, dy):
        xp, s, nd = self.xp, self.saved, len(self.kernel_size)
        g = dy / s.divisor
        dx = xp.zeros(s.padded_shape, dtype=dy.dtype)
        for target in kernel_slices(s.out_shape, self.kernel_size, self.stride, (1,) * nd):
            dx[target] += g
        return (crop(dx, s.pads),)


def adaptive_bins(xp, size, out, dtype):
    """(out, size) matrix whose row i averages the inputs start..end of bin i, with start = floor(i*size/out),
    end = ceil((i+1)*size/out) as PyTorch picks them."""
    i = xp.arange(out)
    start = (i * size) // out
    end = -((-(i + 1) * size) // out)
    j = xp.arange(size)
    inside = (j >= start[:, None]) & (j < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


class AdaptiveAvgPool(Op):
    """Average over `output_size` bins per spatial dim (general sizes; bins may overlap). Pools one dim at a time
    with an (out, size) averaging matrix; output size 1 everywhere is a plain mean."""

    def forward(self, x):
        xp, nd = self.xp, len(self.output_size)
        spatial = x.shape[-nd:]
        self.save(spatial=spatial)
        if all(o == 1 for o in self.output_size):
            return x.mean(axis=tuple(range(-nd, 0)), keepdims=True)
        mats = [adaptive_bins(xp, s, o, x.dtype) for s, o in zip(spatial, self.output_size)]
        self.save(mats=mats)
        for i, m in enumerate(mats):
            x = xp.moveaxis(xp.moveaxis(x, i - nd, -1) @ m.T, -1, i - nd)
        return xp.ascontiguousarray(x)

    def backward(self, dy):
        xp, s, nd = self.xp, self.saved, len(self.output_size)
        if "mats" not in s:
            count = math.prod(s.spatial)
            return (xp.broadcast_to(dy / count, dy.shape[:-nd] + tuple(s.spatial)),)
        for i, m in enumerate(s.mats):
            dy = xp.moveaxis(xp.moveaxis(dy, i - nd, -1) @ m, -1, i - nd)
        return (dy,)


# ---- user-facing functions (PyTorch's names and arguments) ----
def _tuple(v, nd, name, low=None):
    """v as nd ints (an int or a single value repeated), each at least `low` when given."""
    v = (int(v),) * nd if isinstance(v, int) else tuple(int(a) for a in v)
    if len(v) == 1:
        v = v * nd
    if len(v) != nd:
        raise ShapeError(f"{name} needs {nd} values, got {v}")
    if low is not None and any(a < low for a in v):
        raise ShapeError(f"{name} must be at least {low} in every dim, got {v}")
    return v


def _conv_padding(padding, kernel, stride, dilation, nd, name):
    """padding as (lo, hi) per dim from an int, a tuple, "valid" or "same" (extra on the right, like PyTorch)."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding != "same":
            raise ValueError(f"{name}: padding must be 'same', 'valid', an int or a tuple, not {padding!r}")
        if any(s != 1 for s in stride):
            raise ValueError(f"{name}: padding='same' is not supported for strided convolutions")
        return tuple((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation))
    return tuple((p, p) for p in _tuple(padding, nd, f"{name}: padding", 0))


def _check_conv(name, x, w, b, groups, transposed=False):
    nd = w.ndim - 2
    if int(groups) < 1:
        raise ShapeError(f"{name}: groups must be at least 1, got {groups}")
    if x.ndim not in (nd + 1, nd + 2):
        raise ShapeError(f"{name}: expected a {nd + 1}-D or {nd + 2}-D input for weight {tuple(w.shape)}, "
                         f"got input {tuple(x.shape)}")
    channels = x.shape[-nd - 1]
    in_per_group = w.shape[0] // groups if transposed else w.shape[1]
    if channels != in_per_group * groups or (transposed and w.shape[0] % groups):
        raise ShapeError(f"{name}: input {tuple(x.shape)} has {channels} channels, weight {tuple(w.shape)} "
                         f"with groups={groups} expects {in_per_group * groups}")
    out_channels = w.shape[1] * groups if transposed else w.shape[0]
    if not transposed and out_channels % groups:
        raise ShapeError(f"{name}: {out_channels} output channels are not divisible by groups={groups}")
    if b is not None and tuple(b.shape) != (out_channels,):
        raise ShapeError(f"{name}: bias {tuple(b.shape)} does not match {out_channels} output channels")


def conv(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """N-d convolution (cross-correlation) with PyTorch's semantics; nd = weight.ndim - 2."""
    nd = weight.ndim - 2
    name = f"conv{nd}d"
    _check_conv(name, input, weight, bias, groups)
    stride, dilation = _tuple(stride, nd, f"{name}: stride", 1), _tuple(dilation, nd, f"{name}: dilation", 1)
    pads = _conv_padding(padding, weight.shape[2:], stride, dilation, nd, name)
    for s, k, d, (lo, hi) in zip(input.shape[-nd:], weight.shape[2:], dilation, pads):
        if s + lo + hi < d * (k - 1) + 1:
            raise ShapeError(f"{name}: input {tuple(input.shape)} (padded by {pads}) is smaller than the "
                             f"kernel {tuple(weight.shape[2:])} with dilation {dilation}")
    args = (input, weight) if bias is None else (input, weight, bias)
    return Conv.apply(*args, stride=stride, padding=pads, dilation=dilation, groups=groups)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return conv(input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return conv(input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return conv(input, weight, bias, stride, padding, dilation, groups)


def conv_transpose(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """N-d transposed convolution with PyTorch's semantics; weight (C_in, C_out/groups, *K)."""
    nd = weight.ndim - 2
    name = f"conv_transpose{nd}d"
    _check_conv(name, input, weight, bias, groups, transposed=True)
    stride, dilation = _tuple(stride, nd, f"{name}: stride", 1), _tuple(dilation, nd, f"{name}: dilation", 1)
    output_padding = _tuple(output_padding, nd, f"{name}: output_padding", 0)
    if any(op >= max(s, d) for op, s, d in zip(output_padding, stride, dilation)):
        raise ValueError(f"{name}: output_padding {output_padding} must be smaller than stride {stride} "
                         f"or dilation {dilation}")
    pads = tuple((p, p) for p in _tuple(padding, nd, f"{name}: padding", 0))
    args = (input, weight) if bias is None else (input, weight, bias)
    return ConvTranspose.apply(*args, stride=stride, padding=pads, output_padding=output_padding,
                               dilation=dilation, groups=groups)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation)


def max_pool(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False,
             nd=2):
    name = f"max_pool{nd}d"
    kernel = _tuple(kernel_size, nd, f"{name}: kernel_size", 1)
    stride = kernel if stride is None or stride == () else _tuple(stride, nd, f"{name}: stride", 1)
    padding, dilation = _tuple(padding, nd, f"{name}: padding", 0), _tuple(dilation, nd, f"{name}: dilation", 1)
    _check_pool(name, input, kernel, padding, dilation)
    out = MaxPool.apply(input, kernel_size=kernel, stride=stride, padding=padding, dilation=dilation,
                        ceil_mode=bool(ceil_mode), return_indices=bool(return_indices))
    if return_indices:
        out[1].requires_grad = False
    return out


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, nd=1)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, nd=2)


def avg_pool(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
             divisor_override=None, nd=2):
    name = f"avg_pool{nd}d"
    kernel = _tuple(kernel_size, nd, f"{name}: kernel_size", 1)
    stride = kernel if stride is None or stride == () else _tuple(stride, nd, f"{name}: stride", 1)
    padding = _tuple(padding, nd, f"{name}: padding", 0)
    _check_pool(name, input, kernel, padding)
    return AvgPool.apply(input, kernel_size=kernel, stride=stride, padding=padding, ceil_mode=bool(ceil_mode),
                         count_include_pad=bool(count_include_pad), divisor_override=divisor_override)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    return avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, nd=1)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    return avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, nd=2)


def adaptive_avg_pool(input, output_size, nd):
    if input.ndim not in (nd + 1, nd + 2):
        raise ShapeError(f"adaptive_avg_pool{nd}d: expected a {nd + 1}-D or {nd + 2}-D input, "
                         f"got shape {tuple(input.shape)}")
    sizes = (output_size,) * nd if isinstance(output_size, int) or output_size is None else tuple(output_size)
    if len(sizes) != nd:
        raise ValueError(f"adaptive_avg_pool{nd}d: output_size needs {nd} values, got {output_size}")
    sizes = tuple(s if o is None else int(o) for s, o in zip(input.shape[-nd:], sizes))
    return AdaptiveAvgPool.apply(input, output_size=sizes)


def adaptive_avg_pool1d(input, output_size):
    return adaptive_avg_pool(input, output_size, 1)


def adaptive_avg_pool2d(input, output_size):
    return adaptive_avg_pool(input, output_size, 2)
