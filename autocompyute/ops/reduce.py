"""Reductions over dimensions, and the softmax family."""
from ..dtypes import as_dtype
from .base import Op


def normalize_dims(dim, ndim):
    """`dim` (None, int or sequence, negatives allowed) as a sorted tuple of non-negative axes."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    out = []
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            from ..errors import ShapeError
            raise ShapeError(f"dim {d} is out of range for a tensor with {ndim} dimensions")
        out.append(d % max(ndim, 1))
    return tuple(sorted(set(out))) if ndim else ()


def expand_reduced(xp, dy, shape, axes, keepdim):
    """Broadcast a reduced gradient back to the input's `shape`."""
    if not keepdim:
        dy = xp.expand_dims(dy, axes)
    return xp.broadcast_to(dy, shape)


class Sum(Op):
    def forward(self, x):
        self.save(shape=x.shape)
        return x.sum(axis=self.axes, keepdims=self.keepdim)

    def backward(self, dy):
        return (expand_reduced(self.xp, dy, self.saved.shape, self.axes, self.keepdim),)


class Mean(Op):
    def forward(self, x):
        self.save(shape=x.shape)
        return x.mean(axis=self.axes, keepdims=self.keepdim)

    def backward(self, dy):
        shape = self.saved.shape
        count = 1
        for a in self.axes:
            count *= shape[a]
        return (expand_reduced(self.xp, dy / count, shape, self.axes, self.keepdim),)


def sum(x, dim=None, keepdim=False, dtype=None):  # noqa: A001
    if dtype is not None:
        x = x.to(as_dtype(dtype))
    elif x.dtype.kind in "bi" and x.dtype.itemsize < 8 or x.dtype.kind == "b":
        x = x.long()  # like PyTorch: integer and boolean sums count in int64
    return Sum.apply(x, axes=normalize_dims(dim, x.ndim), keepdim=keepdim)


def mean(x, dim=None, keepdim=False):
    return Mean.apply(x, axes=normalize_dims(dim, x.ndim), keepdim=keepdim)
