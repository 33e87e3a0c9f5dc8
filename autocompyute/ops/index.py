"""`x[index]` with numpy's basic and advanced indexing."""
from .. import backends
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
