"""Fused affine layers: `Linear` (y = x @ W.T + b) and `Embedding` (a row gather)."""
from .. import backends, parallel
from ..errors import DTypeError, check_indices, shape_error
from .base import Op


class Linear(Op):
    """y = x @ W.T + b for x of shape (..., in), W of shape (out, in) (PyTorch's layout), b of shape (out,).

    The leading dimensions of x are flattened into one GEMM; `has_bias` says whether a third input is there.
    """
    def forward(self, x, w, b=None):
        x2 = x.reshape(-1, x.shape[-1])           # (M, in)
        if parallel.get_num_threads() > 1:          # (M, out), its columns split over the intra-op threads
            y = parallel.matmul(self.xp, x2, w.T)
        elif x.ndim == 2 and not self.needs_grad:
            # inference: BLAS runs the product about 10% faster as W @ x.T, and the Fortran-ordered y it gives is
            # a C-ordered operand for the next layer's W @ x.T (in training the backward's GEMMs lose more than
            # that; results of higher rank stay C-ordered)
            y = (w @ x2.T).T                        # (M, out)
        else:
            y = x2 @ w.T                            # (M, out)
        if b is not None:
            y += b
        self.save(x2=x2, w=w, x_shape=x.shape)
        return y.reshape(x.shape[:-1] + (w.shape[0],))

    def backward(self, dy):
        x2, w = self.saved.x2, self.saved.w
        dy2 = dy.reshape(-1, w.shape[0])            # (M, out)
        # skip the GEMMs nobody needs: the input of a first layer, a frozen weight
        xp = self.xp
        dx = parallel.matmul(xp, dy2, w).reshape(self.saved.x_shape) if self.input_needs_grad(0) else None
        dw = parallel.matmul(xp, dy2.T, x2) if self.input_needs_grad(1) else None       # (out, in)
        if self.has_bias:
            return dx, dw, dy2.sum(axis=0)
        return dx, dw


class Embedding(Op):
    """y = weight[indices]: rows of a (num_embeddings, dim) table. The backward scatter-adds into the rows
    that were used; the row `padding_idx` (if any) gets no gradient."""
    def forward(self, indices, weight):
        self.save(indices=indices, n=weight.shape[0])
        return weight[indices]                       # (*indices.shape, dim)

    def backward(self, dy):
        xp, idx = self.xp, self.saved.indices
        dim = dy.shape[-1]
        dw = xp.zeros((self.saved.n, dim), dtype=dy.dtype)
        backends.scatter_add(xp, dw, idx.reshape(-1), dy.reshape(-1, dim))
        if self.padding_idx is not None:
            dw[self.padding_idx] = 0
        return None, dw


# ---- user-facing functions ----
def linear(x, weight, bias=None):
    """y = x @ weight.T + bias, with weight of shape (out_features, in_features)."""
    if weight.ndim != 2 or x.ndim < 1 or x.shape[-1] != weight.shape[1]:
        raise shape_error("linear", x.shape, weight.shape, why="input's last dim must equal weight's dim 1")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise shape_error("linear", weight.shape, bias.shape, why="bias must have shape (out_features,)")
    if bias is None:
        return Linear.apply(x, weight, has_bias=False)
    return Linear.apply(x, weight, bias, has_bias=True)


def embedding(indices, weight, padding_idx=None):
    """Rows of `weight` (num_embeddings, dim) picked by integer `indices` of any shape."""
    from ..tensor import Tensor

    if not isinstance(indices, Tensor):
        indices = Tensor(indices)
    if indices.dtype.kind not in "iu":
        raise DTypeError(f"embedding: indices must be integers, got {indices.dtype}")
    if weight.ndim != 2:
        raise shape_error("embedding", weight.shape, why="weight must be 2-D (num_embeddings, dim)")
    n = weight.shape[0]
    check_indices("embedding", indices.data, n)
    if padding_idx is not None:
        padding_idx = int(padding_idx) % n
    return Embedding.apply(indices, weight, padding_idx=padding_idx)
