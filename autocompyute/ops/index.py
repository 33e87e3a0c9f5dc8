"""`x[index]` with numpy's basic and advanced indexing, and PyTorch's gather, scatter_add and masked_fill."""
import numpy as np

from .. import backends
from ..errors import ShapeError, check_dim, check_indices, shape_error
from .base import Op


class GetItem(Op):
    """y = x[index]. Basic indices (ints, slices, None, Ellipsis) give a view, and the gradient is written
    into one zeros buffer by assignment; advanced indices (integer arrays, boolean masks) scatter-add, so
    repeated indices accumulate."""
    def forward(self, x):
        self.save(shape=x.shape)
        return x[self.index]

    def backward(self, dy):
        xp = self.xp
        dx = xp.zeros(self.saved.shape, dy.dtype)
        if self.can_repeat:
            backends.scatter_add(xp, dx, self.index, dy)
        else:
            dx[self.index] = dy
        return (dx,)


def _normalize_index(index, xp, device):
    """The index as a tuple numpy understands: Tensors and lists become arrays on x's device."""
    from ..tensor import Tensor

    items = index if isinstance(index, tuple) else (index,)
    out = []
    for i in items:
        if isinstance(i, Tensor):
            i = i.data
        elif isinstance(i, list):
            i = xp.asarray(i)
        if hasattr(i, "dtype"):
            i = backends.to_device(i, device)
        out.append(i)
    return tuple(out)


def getitem(x, index):
    """`x[index]` with numpy semantics. Tensor indices are used as constants (not differentiated)."""
    index = _normalize_index(index, x.xp, x.device)
    # only integer arrays can name one element twice; boolean masks and basic indices cannot
    can_repeat = any(getattr(i, "ndim", 0) and i.dtype.kind != "b" for i in index)
    return GetItem.apply(x, index=index, can_repeat=can_repeat)


# ---- gather, scatter_add, masked_fill: PyTorch's semantics ----
def _coords(xp, index, axis):
    """Advanced-index tuple that reads, for every entry of `index`, position index[...] along `axis` and the
    entry's own position along the other dimensions."""
    coords = []
    for d, n in enumerate(index.shape):
        if d == axis:
            coords.append(index)
        else:
            coords.append(xp.arange(n).reshape((n,) + (1,) * (index.ndim - d - 1)))
    return tuple(coords)


class Gather(Op):
    """y[i][j] = x[index[i][j]][j] for axis 0 (and likewise for any axis); the gradient scatter-adds."""
    def forward(self, x, index):
        coords = _coords(self.xp, index, self.axis)
        self.save(shape=x.shape, coords=coords)
        return x[coords]

    def backward(self, dy):
        dx = self.xp.zeros(self.saved.shape, dy.dtype)
        return backends.scatter_add(self.xp, dx, self.saved.coords, dy), None


class ScatterAdd(Op):
    """y = x, then y[index[i][j]][j] += src[i][j] for axis 0 (and likewise for any axis)."""
    def forward(self, x, index, src):
        coords = _coords(self.xp, index, self.axis)
        used = tuple(slice(0, n) for n in index.shape)  # src may be larger than index
        self.save(coords=coords, used=used, src_shape=src.shape)
        return backends.scatter_add(self.xp, x.copy(), coords, src[used])

    def backward(self, dy):
        dsrc = self.xp.zeros(self.saved.src_shape, dy.dtype)
        dsrc[self.saved.used] = dy[self.saved.coords]
        return dy, None, dsrc


class MaskedFill(Op):
    """y = value where mask else x (mask broadcasts to x)."""
    def forward(self, x, mask):
        self.save(mask=mask)
        return self.xp.where(mask, self.xp.asarray(self.value, dtype=x.dtype), x)

    def backward(self, dy):
        return self.xp.where(self.saved.mask, self.xp.zeros((), dy.dtype), dy), None


def _check_index(op, x, dim, index, src=None):
    from ..tensor import Tensor

    index = index if isinstance(index, Tensor) else Tensor(x.xp.asarray(index))
    if index.dtype.kind not in "iu":
        raise ShapeError(f"{op}: index must be an integer tensor, got {index.dtype}")
    axis = check_dim(dim, x.ndim, op)
    too_big = index.ndim != x.ndim or any(m > n for d, (m, n) in enumerate(zip(index.shape, x.shape)) if d != axis)
    if src is not None:
        too_big = too_big or index.ndim != src.ndim or any(m > n for m, n in zip(index.shape, src.shape))
    if too_big:
        shapes = (x.shape, index.shape) if src is None else (x.shape, index.shape, src.shape)
        raise shape_error(op, *shapes, why="index does not fit")
    check_indices(op, index.data, x.shape[axis], what=f"index along dim {axis}")
    return index, axis


def gather(x, dim, index):
    index, axis = _check_index("gather", x, dim, index)
    return Gather.apply(x, index, axis=axis)


def scatter_add(x, dim, index, src):
    index, axis = _check_index("scatter_add", x, dim, index, src)
    return ScatterAdd.apply(x, index, src, axis=axis)


def masked_fill(x, mask, value):
    """x with `value` where `mask` is true; a tensor `value` (0-d) is differentiated too."""
    from ..tensor import Tensor
    from .binary import _as_bool, where

    mask = _as_bool(mask, x)
    try:
        out_shape = np.broadcast_shapes(x.shape, mask.shape)
    except ValueError:
        out_shape = None
    if out_shape != x.shape:
        raise shape_error("masked_fill", x.shape, mask.shape, why="mask does not broadcast to the tensor")
    if isinstance(value, Tensor):
        return where(mask, value, x)
    return MaskedFill.apply(x, mask, value=value)
