"""Cases for ops/index.py: `x[...]`, basic and advanced."""
import numpy as np

import autocompyute as ac
from op_cases import B, C, Case, I, U

def _coords(index, axis):
    return tuple(index if d == axis else np.arange(n).reshape((n,) + (1,) * (index.ndim - d - 1))
                 for d, n in enumerate(index.shape))


def _gather(x, axis, index):
    return x[_coords(index, axis)]


def _scatter_add(x, axis, index, src):
    out = x.copy()
    np.add.at(out, _coords(index, axis), src[tuple(slice(0, n) for n in index.shape)])
    return out


CASES = [
    Case("getitem_int", lambda x: x[1], (U(3, 4),), lambda x: x[1]),
    Case("getitem_neg_int_last", lambda x: x[..., -1], (U(2, 3, 4),), lambda x: x[..., -1]),
    Case("getitem_slices", lambda x: x[1:, ::-2, None], (U(3, 5, 2),), lambda x: x[1:, ::-2, None]),
    Case("getitem_basic_mixed", lambda x: x[0, None, ..., 1:3], (U(2, 3, 4),), lambda x: x[0, None, ..., 1:3]),
    Case("getitem_reused", lambda x: x[0] * x[1] + x[:, 0].sum(), (U(3, 4),),
         lambda x: x[0] * x[1] + x[:, 0].sum()),
    Case("getitem_int_array", lambda x, i: x[i], (U(3, 4), I(3, 5)), lambda x, i: x[i]),
    Case("getitem_repeated_list", lambda x: x[[0, 2, 0, 0]], (U(3, 4),), lambda x: x[[0, 2, 0, 0]]),
    Case("getitem_tensor_index", lambda x, i: x[:, ac.tensor(i)], (U(2, 4), C([[3, 3], [0, 1]])),
         lambda x, i: x[:, i]),
    Case("getitem_mask", lambda x, m: x[m], (U(3, 4), B(3, 4)), lambda x, m: x[m]),
    Case("getitem_row_mask", lambda x, m: x[m, 1:], (U(4, 3), C([True, False, True, True])), lambda x, m: x[m, 1:]),
    Case("getitem_adv_slice_adv", lambda x: x[[0, 1, 1], :, [2, 0, 0]], (U(2, 3, 4),),
         lambda x: x[[0, 1, 1], :, [2, 0, 0]]),
    Case("getitem_adv_broadcast", lambda x, i, j: x[i, j], (U(3, 4), I(2, 4, 1), I(3, 5)), lambda x, i, j: x[i, j]),
    Case("getitem_adv_after_slice", lambda x, i: x[1:, i, None], (U(3, 4), I(4, 3, 2)), lambda x, i: x[1:, i, None]),
    Case("gather_dim0_repeats", lambda x, i: x.gather(0, i), (U(3, 5), I(3, 4, 5)), lambda x, i: _gather(x, 0, i)),
    Case("gather_neg_dim_smaller_index", lambda x, i: ac.gather(x, -1, i), (U(2, 3, 4), I(4, 2, 2, 6)),
         lambda x, i: _gather(x, 2, i)),
    Case("scatter_add", lambda x, i, s: x.scatter_add(1, i, s), (U(3, 4), I(4, 3, 6), U(3, 6)),
         lambda x, i, s: _scatter_add(x, 1, i, s)),
    Case("scatter_add_larger_src", lambda x, i, s: ac.scatter_add(x, 0, i, s), (U(3, 4), I(3, 5, 2), U(6, 3)),
         lambda x, i, s: _scatter_add(x, 0, i, s)),
    Case("masked_fill", lambda x, m: x.masked_fill(m, -1.5), (U(3, 4), B(3, 4)), lambda x, m: np.where(m, -1.5, x)),
    Case("masked_fill_broadcast", lambda x, m: ac.masked_fill(x, m, 2.0) * x, (U(2, 3, 4), B(3, 1)),
         lambda x, m: np.where(m, 2.0, x) * x),
    Case("masked_fill_tensor_value", lambda x, m, v: x.masked_fill(m, v), (U(3, 4), B(4), U()),
         lambda x, m, v: np.where(m, v, x)),
]
