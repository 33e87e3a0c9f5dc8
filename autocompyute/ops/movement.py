"""Ops that move values around without arithmetic: reshapes, transposes, joins and splits, padding, flips,
repeats, triangles, gathers and scatters."""
import itertools
import math

from .. import backends
from ..errors import ShapeError, check_dim, shape_error
from .base import Op


def _dims(dims, ndim, op):
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    return tuple(check_dim(d, max(ndim, 1), op) for d in dims) if ndim else ()


def _as_shape(shape):
    return (shape,) if isinstance(shape, int) else tuple(int(s) for s in shape)


# ---- reshapes: the gradient is reshaped back to the input's shape ----
class _Reshaping(Op):
    def backward(self, dy):
        return (dy.reshape(self.saved.shape),)


class Reshape(_Reshaping):
    """y = x.reshape(shape); one entry of `shape` may be -1."""
    def forward(self, x):
        self.save(shape=x.shape)
        known = math.prod(s for s in self.shape if s != -1)
        n_free = self.shape.count(-1)
        if n_free > 1 or any(s < -1 for s in self.shape) or (
                known != x.size if n_free == 0 else known == 0 or x.size % known):
            raise shape_error("reshape", x.shape, self.shape, why=f"cannot reshape {x.size} elements")
        return x.reshape(self.shape)


class Squeeze(_Reshaping):
    """Drop the size-1 dimensions among `axes`."""
    def forward(self, x):
        self.save(shape=x.shape)
        return x.reshape(tuple(n for i, n in enumerate(x.shape) if not (i in self.axes and n == 1)))


class Unsqueeze(_Reshaping):
    """Insert a size-1 dimension at `axis` (of the output)."""
    def forward(self, x):
        self.save(shape=x.shape)
        return self.xp.expand_dims(x, self.axis)


class Flatten(_Reshaping):
    """Merge the dimensions start_dim..end_dim into one."""
    def forward(self, x):
        self.save(shape=x.shape)
        s, e = self.start_dim, self.end_dim
        return x.reshape(x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:])


def reshape(x, shape):
    return Reshape.apply(x, shape=_as_shape(shape))


view = reshape


def squeeze(x, dim=None):
    """Drop size-1 dimensions: all of them (dim=None), or those named by `dim` (int or tuple) that have size 1."""
    axes = tuple(i for i, n in enumerate(x.shape) if n == 1) if dim is None else _dims(dim, x.ndim, "squeeze")
    return Squeeze.apply(x, axes=axes)


def unsqueeze(x, dim):
    return Unsqueeze.apply(x, axis=check_dim(dim, x.ndim + 1, "unsqueeze"))


def flatten(x, start_dim=0, end_dim=-1):
    if x.ndim == 0:
        return reshape(x, (1,))
    s, e = check_dim(start_dim, x.ndim, "flatten"), check_dim(end_dim, x.ndim, "flatten")
    if s > e:
        raise ShapeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {x.shape}")
    return Flatten.apply(x, start_dim=s, end_dim=e)


# ---- transposes and broadcasts ----
class Permute(Op):
    """y = x.transpose(dims)"""
    def forward(self, x):
        return x.transpose(self.dims)

    def backward(self, dy):
        inverse = [0] * len(self.dims)
        for i, d in enumerate(self.dims):
            inverse[d] = i
        return (dy.transpose(inverse),)


class Expand(Op):
    """Broadcast x to `shape` (a view). The engine sums the gradient back to x's shape."""
    def forward(self, x):
        return self.xp.broadcast_to(x, self.shape)

    def backward(self, dy):
        return (dy,)


def permute(x, dims):
    dims = _dims(dims, x.ndim, "permute")
    if sorted(dims) != list(range(x.ndim)):
        raise ShapeError(f"permute: {dims} is not a permutation of the {x.ndim} dimensions of shape {x.shape}")
    return Permute.apply(x, dims=dims)


def transpose(x, dim0, dim1):
    dims = list(range(x.ndim))
    a, b = check_dim(dim0, x.ndim, "transpose"), check_dim(dim1, x.ndim, "transpose")
    dims[a], dims[b] = dims[b], dims[a]
    return Permute.apply(x, dims=tuple(dims))


def expand(x, sizes):
    """Broadcast to `sizes`; -1 keeps a dimension, extra sizes are new leading dimensions."""
    sizes = _as_shape(sizes)
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise shape_error("expand", x.shape, sizes, why="fewer sizes than dimensions")
    shape = tuple(x.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    bad = any(s < 0 for s in shape) or any(n != 1 and n != s for n, s in zip(x.shape, shape[lead:]))
    if bad:
        raise shape_error("expand", x.shape, sizes, why="cannot broadcast")
    return Expand.apply(x, shape=shape)


# ---- joins and splits ----
class Cat(Op):
    """Concatenate the inputs along `axis`; the gradient is split back into views."""
    def forward(self, *xs):
        self.save(sizes=[x.shape[self.axis] for x in xs])
        return self.xp.concatenate(xs, axis=self.axis)

    def backward(self, dy):
        ends = list(itertools.accumulate(self.saved.sizes))[:-1]
        return tuple(self.xp.split(dy, ends, axis=self.axis))


class Stack(Op):
    """Stack equally shaped inputs along a new `axis`."""
    def forward(self, *xs):
        return self.xp.stack(xs, axis=self.axis)

    def backward(self, dy):
        lead = (slice(None),) * self.axis
        return tuple(dy[lead + (i,)] for i in range(dy.shape[self.axis]))


class Split(Op):
    """Split x along `axis` into pieces of `sizes` (one Op with several outputs); backward concatenates the
    pieces' gradients once."""
    def forward(self, x):
        ends = list(itertools.accumulate(self.sizes))[:-1]
        return tuple(self.xp.split(x, ends, axis=self.axis))

    def backward(self, *dys):
        return (self.xp.concatenate(dys, axis=self.axis),)


def cat(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise ShapeError("cat: needs at least one tensor")
    first = tensors[0]
    if first.ndim == 0:
        raise ShapeError("cat: zero-dimensional tensors cannot be concatenated (use stack)")
    axis = check_dim(dim, first.ndim, "cat")
    for t in tensors[1:]:
        if t.ndim != first.ndim or any(n != m for i, (n, m) in enumerate(zip(t.shape, first.shape)) if i != axis):
            raise shape_error("cat", first.shape, t.shape, why=f"shapes differ outside dim {dim}")
    return Cat.apply(*tensors, axis=axis)


concat = concatenate = cat


def stack(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise ShapeError("stack: needs at least one tensor")
    for t in tensors[1:]:
        if t.shape != tensors[0].shape:
            raise shape_error("stack", tensors[0].shape, t.shape, why="every tensor needs the same shape")
    return Stack.apply(*tensors, axis=check_dim(dim, tensors[0].ndim + 1, "stack"))


def split(x, split_size_or_sections, dim=0):
    """Pieces of size `split_size_or_sections` (the last may be smaller), or of the listed sizes."""
    axis = check_dim(dim, x.ndim, "split")
    n = x.shape[axis]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0:
            raise ShapeError(f"split: split size must be positive, got {size}")
        sizes = [min(size, n - start) for start in range(0, n, size)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise shape_error("split", x.shape, sizes, why=f"sections do not add up to {n} along dim {dim}")
    return Split.apply(x, axis=axis, sizes=tuple(sizes))


def chunk(x, chunks, dim=0):
    """Split into `chunks` pieces of equal size ceil(n / chunks) (fewer if n is small), like PyTorch."""
    if chunks <= 0:
        raise ShapeError(f"chunk: chunks must be positive, got {chunks}")
    n = x.shape[check_dim(dim, x.ndim, "chunk")]
    return split(x, max(-(-n // chunks), 1), dim)



# ---- padding ----
class Pad(Op):
    """Pad each dimension by `widths[d] = (before, after)`. mode "constant" fills with `value` (negative widths
    crop); "reflect", "replicate" and "circular" read x at mirrored, clamped or wrapped positions, and their
    gradient adds back into those positions (borders receive several contributions)."""
    def forward(self, x):
        xp, widths = self.xp, self.widths
        self.save(shape=x.shape)
        if self.mode == "constant":
            x = x[tuple(slice(_neg(b), n - _neg(a)) for (b, a), n in zip(widths, x.shape))]
            return xp.pad(x, [(_pos(b), _pos(a)) for b, a in widths], mode="constant", constant_values=self.value)
        sources = {}
        for axis, (b, a) in enumerate(widths):
            if b or a:
                sources[axis] = self._sources(x.shape[axis], b, a)
                x = xp.take(x, sources[axis], axis=axis)
        self.save(sources=sources)
        return x

    def _sources(self, n, before, after):
        """For each output position along one dimension, the input position it reads."""
        p = self.xp.arange(-before, n + after)
        if self.mode == "reflect":
            return (n - 1) - self.xp.abs((n - 1) - self.xp.abs(p))
        if self.mode == "replicate":
            return self.xp.clip(p, 0, n - 1)
        return p % n  # circular

    def backward(self, dy):
        xp, shape, widths = self.xp, self.saved.shape, self.widths
        if self.mode == "constant":
            inner = tuple(slice(_pos(b), _pos(b) + n - _neg(b) - _neg(a)) for (b, a), n in zip(widths, shape))
            if not any(b < 0 or a < 0 for b, a in widths):
                return (dy[inner],)
            dx = xp.zeros(shape, dy.dtype)
            dx[tuple(slice(_neg(b), n - _neg(a)) for (b, a), n in zip(widths, shape))] = dy[inner]
            return (dx,)
        for axis, src in reversed(self.saved.sources.items()):
            g = xp.zeros(dy.shape[:axis] + (shape[axis],) + dy.shape[axis + 1:], dy.dtype)
            dy = backends.scatter_add(xp, g, (slice(None),) * axis + (src,), dy)
        return (dy,)


def _pos(v):
    return v if v > 0 else 0


def _neg(v):
    return -v if v < 0 else 0


PAD_MODES = ("constant", "reflect", "replicate", "circular")


def pad(x, pad, mode="constant", value=None):
    """Pad like PyTorch's F.pad: `pad` = (last_before, last_after, second_last_before, ...)."""
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ShapeError(f"pad: {pad} needs an even length of at most 2 * {x.ndim} for shape {x.shape}")
    if mode not in PAD_MODES:
        raise ValueError(f"pad: unknown mode {mode!r}; expected one of {PAD_MODES}")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if mode != "constant":
        for (b, a), n in zip(widths, x.shape):
            limit = n - 1 if mode == "reflect" else n if mode == "circular" else float("inf") if n else 0
            if b < 0 or a < 0 or b > limit or a > limit:
                raise ShapeError(f"pad: {mode} padding {pad} does not fit shape {x.shape}")
    elif any(n - _neg(b) - _neg(a) < 0 for (b, a), n in zip(widths, x.shape)):
        raise ShapeError(f"pad: cropping {pad} is larger than shape {x.shape}")
    return Pad.apply(x, pad=pad, widths=tuple(widths), mode=mode, value=0 if value is None else value)


# ---- flips, repeats, triangles ----
class Flip(Op):
    """Reverse the order along `axes` (a view)."""
    def forward(self, x):
        return self.xp.flip(x, axis=self.axes)

    def backward(self, dy):
        return (self.xp.flip(dy, axis=self.axes),)


class Tile(Op):
    """Repeat x `reps[d]` times along each dimension (x gets leading size-1 dimensions if reps is longer)."""
    def forward(self, x):
        self.save(shape=x.shape)
        return self.xp.tile(x, self.reps)

    def backward(self, dy):
        shape = self.saved.shape
        full = (1,) * (len(self.reps) - len(shape)) + tuple(shape)
        interleaved = [n for pair in zip(self.reps, full) for n in pair]  # (r0, n0, r1, n1, ...)
        summed = dy.reshape(interleaved).sum(axis=tuple(range(0, len(interleaved), 2)))
        return (summed.reshape(shape),)


class Tril(Op):
    """Keep the elements on and below the `diagonal`-th diagonal of the last two dimensions."""
    def forward(self, x):
        return self.xp.tril(x, self.diagonal)

    def backward(self, dy):
        return (self.xp.tril(dy, self.diagonal),)


class Triu(Op):
    """Keep the elements on and above the `diagonal`-th diagonal of the last two dimensions."""
    def forward(self, x):
        return self.xp.triu(x, self.diagonal)

    def backward(self, dy):
        return (self.xp.triu(dy, self.diagonal),)


def flip(x, dims):
    return Flip.apply(x, axes=_dims(dims, x.ndim, "flip"))


def repeat(x, sizes):
    """PyTorch's repeat: one count per dimension (more counts than dimensions add leading dimensions)."""
    sizes = _as_shape(sizes)
    if len(sizes) < x.ndim:
        raise shape_error("repeat", x.shape, sizes, why="needs at least one count per dimension")
    return Tile.apply(x, reps=sizes)


def tile(x, dims):
    """Like repeat, but fewer counts than dimensions are padded with leading 1s."""
    dims = _as_shape(dims)
    return Tile.apply(x, reps=(1,) * (x.ndim - len(dims)) + dims)


def _triangle(op, name, x, diagonal):
    if x.ndim < 2:
        raise ShapeError(f"{name}: needs at least 2 dimensions, got shape {x.shape}")
    return op.apply(x, diagonal=int(diagonal))


def tril(x, diagonal=0):
    return _triangle(Tril, "tril", x, diagonal)


def triu(x, diagonal=0):
    return _triangle(Triu, "triu", x, diagonal)
