"""Matrix products."""
from ..errors import shape_error
from .base import Op


class MatMul(Op):
    """y = a @ b with numpy's matmul semantics: 1-D operands are promoted to a row (a) or a column (b) and
    that dimension is dropped again; leading batch dimensions broadcast (the engine sums them back)."""
    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise shape_error("matmul", a.shape, b.shape, why="both operands need at least one dimension")
        k_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
        if a.shape[-1] != k_b:
            raise shape_error("matmul", a.shape, b.shape, why=f"inner dimensions differ ({a.shape[-1]} != {k_b})")
        try:
            y = _rows_times_matrix(a, b) if b.ndim == 2 and a.ndim > 2 else self.xp.matmul(a, b)
        except ValueError:
            raise shape_error("matmul", a.shape, b.shape, why="batch dimensions do not broadcast") from None
        self.save(a=a, b=b)
        return y

    def backward(self, dy):
        xp, a, b = self.xp, self.saved.a, self.saved.b
        a2 = a[None, :] if a.ndim == 1 else a  # (..., M, K)
        b2 = b[:, None] if b.ndim == 1 else b  # (..., K, N)
        if b.ndim == 1:
            dy = dy[..., None]
        if a.ndim == 1:
            dy = dy[..., None, :]  # dy: (..., M, N)
        da = _rows_times_matrix(dy, b2.swapaxes(-1, -2)) if b2.ndim == 2 else xp.matmul(dy, b2.swapaxes(-1, -2))
        if b2.ndim == 2 and dy.ndim > 2:  # b shared by every batch: one GEMM over all rows
            db = a2.reshape(-1, a2.shape[-1]).T @ dy.reshape(-1, dy.shape[-1])  # (K, N)
        else:
            db = xp.matmul(a2.swapaxes(-1, -2), dy)  # (..., K, N)
        if a.ndim == 1:
            da = da[..., 0, :]
        if b.ndim == 1:
            db = db[..., 0]
        return da, db


def _rows_times_matrix(a, m):
    """(..., K) @ (K, N) as ONE GEMM over all rows (numpy's matmul would run one GEMM per batch entry)."""
    rows = a.reshape(-1, a.shape[-1])  # a copy only where `a` is not row-contiguous
    return (rows @ m).reshape(a.shape[:-1] + (m.shape[-1],))


def matmul(a, b):
    """Matrix product with numpy/PyTorch semantics (1-D operands, batching, broadcast batch dimensions)."""
    return MatMul.apply(a, b)
