"""Ops that ONNX's breadth needs and no other family provides.

- `GatherMap`: y[o] = sum_k w[o, k] * flat[index[o, k]], where `flat` is all inputs raveled end to end. Every
  op that is linear in its data for fixed indices is one of these: pooling, padding, resizing, grid sampling,
  depth/space shuffles, gathers and scatters, top-k values. The rule computes `index` and `weight` from the
  (integer, non-differentiable) arguments; the Op's backward is one scatter-add.
- `Einsum`: numpy's einsum with its gradient, repeated subscripts included.
- `Pointwise`: the elementwise functions the engine's unary family lacks (inverse trigonometric and the
  piecewise-constant ones: floor, ceil, round, sign have zero gradient).
"""
import math

from .. import backends
from .base import Op


class GatherMap(Op):
    """y = sum_k weight[..., k] * flat[index[..., k]]; `weight` None means one term per output (K = 1, no axis)."""

    def forward(self, *xs):
        xp = self.xp
        flat = xs[0].reshape(-1) if len(xs) == 1 else xp.concatenate([x.reshape(-1) for x in xs])
        index = xp.asarray(self.index)
        self.save(shapes=[x.shape for x in xs], dtype=flat.dtype)
        y = flat[index]
        if self.weight is not None:
            w = xp.asarray(self.weight, dtype=flat.dtype)
            if flat.dtype.kind in "fc" and not xp.isfinite(flat).all():
                y = xp.where(w == 0, 0, y)  # a weight-0 term reads nothing: inf * 0 would make a nan
            y = (y * w).sum(axis=-1)
        return y

    def backward(self, dy):
        xp, shapes = self.xp, self.saved.shapes
        index = xp.asarray(self.index)
        sizes = [math.prod(s) for s in shapes]
        g = xp.zeros(sum(sizes), dtype=dy.dtype)
        if self.weight is not None:
            dy = dy[..., None] * xp.asarray(self.weight, dtype=dy.dtype)
        backends.scatter_add(xp, g, index.reshape(-1), dy.reshape(-1))
        out, start = [], 0
        for shape, n in zip(shapes, sizes):
            out.append(g[start:start + n].reshape(shape))
            start += n
        return tuple(out)


def gather_map(inputs, index, weight=None):
    """Apply a GatherMap over `inputs` (Tensors, raveled and joined in order) with integer `index`."""
    return GatherMap.apply(*inputs, index=index, weight=weight)


def einsum_parts(equation, ndims):
    """Explicit form of an einsum equation: (list of input subscripts, output subscripts), "..." expanded."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    used = set(eq) - set(".,->")
    free = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in used]
    n_ell = max((nd - len(t.replace("...", "")) for t, nd in zip(terms, ndims) if "..." in t), default=0)
    ell = "".join(free[:n_ell])
    out_terms = []
    for t, nd in zip(terms, ndims):
        if "..." in t:
            k = nd - len(t.replace("...", ""))
            t = t.replace("...", ell[n_ell - k:] if k else "")
        out_terms.append(t)
    if arrow:
        out = rhs.replace("...", ell)
    else:  # implicit output: the ellipsis, then subscripts that appear once, in alphabetical order
        counts = "".join(out_terms)
        out = ell + "".join(sorted(c for c in set(counts) if counts.count(c) == 1 and c not in ell))
    return out_terms, out


class Einsum(Op):
    """y = einsum(equation, *xs). The gradient of each input is an einsum of dy with the other inputs."""

    def forward(self, *xs):
        terms, out = einsum_parts(self.equation, [x.ndim for x in xs])
        self.save(xs=xs, terms=terms, out=out)
        # with three or more operands, the contraction order matters: numpy's default is left to right, which for
        # a chain of matrices can cost orders of magnitude more than the best order `optimize` finds
        return self.xp.einsum(",".join(terms) + "->" + out, *xs, optimize=len(xs) > 2)

    def backward(self, dy):
        xp, xs, terms, out = self.xp, self.saved.xs, self.saved.terms, self.saved.out
        sizes = {}
        for t, x in zip(terms, xs):
            sizes.update(zip(t, x.shape))
        grads = []
        for i, (t, x) in enumerate(zip(terms, xs)):
            ops, subs = [dy], [out]
            for j, (tj, xj) in enumerate(zip(terms, xs)):
                if j != i:
                    ops.append(xj)
                    subs.append(tj)
            # a repeated subscript in t (a diagonal): give each repeat its own letter, tied by an identity
            target, seen = "", set()
            spare = (c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in sizes)
            for c in t:
                if c in seen:
                    d = next(spare)
                    sizes[d] = sizes[c]
                    ops.append(xp.eye(sizes[c], dtype=dy.dtype))
                    subs.append(c + d)
                    target += d
                else:
                    seen.add(c)
                    target += c
            for c in set(t) - set("".join(subs)):  # summed out of x alone: the gradient is constant along c
                ops.append(xp.ones(sizes[c], dtype=dy.dtype))
                subs.append(c)
            grads.append(xp.einsum(",".join(subs) + "->" + target, *ops, optimize=len(ops) > 2).reshape(x.shape))
        return tuple(grads)


def einsum(equation, *operands):
    return Einsum.apply(*operands, equation=equation)


_POINTWISE = {
    # name: (forward(xp, x), derivative(xp, x) or None for a zero gradient)
    "atan": (lambda xp, x: xp.arctan(x), lambda xp, x: 1 / (1 + x * x)),
    "asin": (lambda xp, x: xp.arcsin(x), lambda xp, x: 1 / xp.sqrt(1 - x * x)),
    "acos": (lambda xp, x: xp.arccos(x), lambda xp, x: -1 / xp.sqrt(1 - x * x)),
    "tan": (lambda xp, x: xp.tan(x), lambda xp, x: 1 / xp.cos(x) ** 2),
    # (as logs of x + sqrt(x * x + 1) and the like, they lost small values and made nan or inf of large ones)
    "asinh": (lambda xp, x: xp.arcsinh(x), lambda xp, x: 1 / xp.sqrt(x * x + 1)),
    "acosh": (lambda xp, x: xp.arccosh(x), lambda xp, x: 1 / xp.sqrt(x * x - 1)),
    "atanh": (lambda xp, x: xp.arctanh(x), lambda xp, x: 1 / (1 - x * x)),
    "floor": (lambda xp, x: xp.floor(x), None),
    "ceil": (lambda xp, x: xp.ceil(x), None),
    "round": (lambda xp, x: xp.round(x), None),  # half to even, as ONNX says
    "sign": (lambda xp, x: xp.sign(x), None),
}


class Pointwise(Op):
    """An elementwise function from a small table (`fn` names it); floor, ceil, round and sign pass zero grad."""

    def forward(self, x):
        f, d = _POINTWISE[self.fn]
        if d is not None:
            self.save(x=x)
        return f(self.xp, x).astype(x.dtype, copy=False)

    def backward(self, dy):
        d = _POINTWISE[self.fn][1]
        if d is None:
            return (self.xp.zeros_like(dy),)
        return (dy * d(self.xp, self.saved.x),)


def pointwise(x, fn):
    if fn not in _POINTWISE:
        raise ValueError(f"pointwise: unknown function {fn!r}; known: {sorted(_POINTWISE)}")
    return Pointwise.apply(x, fn=fn)


def dft_matrix(length, n, cin, inverse, onesided):
    """The real matrix A (K, Cout, L, Cin) of ONNX's DFT along one axis: y[k, co] = sum A[k, co, t, ci] x[t, ci].
    Complex values are (re, im) pairs (C = 2); a real signal has C = 1. `inverse` and `onesided` together are
    the inverse of a Hermitian half spectrum (L bins) into n real samples (Cout = 1)."""
    import numpy as np  # a host-side table of constants, built once per call

    if inverse and onesided:
        k = np.arange(length)
        w = np.where((k == 0) | ((n % 2 == 0) & (k == n // 2)), 1.0, 2.0) * (k <= n // 2)
        angle = 2 * math.pi * np.outer(np.arange(n), k) / n  # (n, L)
        a = np.zeros((n, 1, length, cin))
        a[:, 0, :, 0] = w * np.cos(angle) / n
        if cin == 2:
            a[:, 0, :, 1] = -w * np.sin(angle) / n
        return a
    bins = n // 2 + 1 if onesided else n
    t = np.arange(length)
    keep = t < n  # samples past n are dropped; a shorter signal is zero-padded
    angle = 2 * math.pi * np.outer(np.arange(bins), t) / n
    cos, sin = np.cos(angle) * keep, np.sin(angle) * keep * (1 if inverse else -1)
    if inverse:
        cos, sin = cos / n, sin / n
    a = np.zeros((bins, 2, length, cin))
    a[:, 0, :, 0], a[:, 1, :, 0] = cos, sin
    if cin == 2:
        a[:, 0, :, 1], a[:, 1, :, 1] = -sin, cos
    return a


class DFT(Op):
    """ONNX's DFT along `axis` of x (..., L, ..., C): the forward pass is the FFT in x's precision (as the
    reference computes it); the backward pass applies the transpose of `dft_matrix`."""

    def forward(self, x):
        xp, ax, n = self.xp, self.axis, self.n
        self.save(shape=x.shape)
        z = x[..., 0] if x.shape[-1] == 1 else x[..., 0] + 1j * x[..., 1]
        z = z.astype(xp.result_type(x.dtype, xp.complex64))
        if self.inverse and self.onesided:
            return xp.fft.irfft(z, n=n, axis=ax)[..., None].astype(x.dtype)
        y = xp.fft.ifft(z, n=n, axis=ax) if self.inverse else xp.fft.fft(z, n=n, axis=ax)
        if self.onesided:
            y = xp.take(y, xp.arange(n // 2 + 1), axis=ax)
        return xp.stack([y.real, y.imag], -1).astype(x.dtype)

    def backward(self, dy):
        xp, shape, ax = self.xp, self.saved.shape, self.axis
        a = xp.asarray(dft_matrix(shape[ax], self.n, shape[-1], self.inverse, self.onesided), dtype=dy.dtype)
        sub = "abcdefghijklmnopqrstuv"[:dy.ndim]
        out = sub[:ax] + "y" + sub[ax + 1:-1] + "z"
        return (xp.einsum(f"{sub},{sub[ax]}{sub[-1]}yz->{out}", dy, a),)


def dft(x, n, axis, inverse=False, onesided=False):
    """ONNX DFT of x (..., L, ..., C) along `axis` (not the last), transform length n."""
    return DFT.apply(x, n=int(n), axis=axis % x.ndim, inverse=bool(inverse), onesided=bool(onesided))


class Det(Op):
    """y = det(x) over the last two axes; dy/dx = dy * det(x) * inv(x)^T."""

    def forward(self, x):
        y = self.xp.linalg.det(x).astype(x.dtype, copy=False)
        self.save(x=x, y=y)
        return y

    def backward(self, dy):
        xp, x, y = self.xp, self.saved.x, self.saved.y
        inv_t = xp.swapaxes(xp.linalg.inv(x), -1, -2)
        return ((dy * y)[..., None, None] * inv_t,)


def det(x):
    """Determinant of the square matrices in x's last two axes."""
    return Det.apply(x)
