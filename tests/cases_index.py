"""Cases for ops/index.py: `x[...]`, basic and advanced."""
import numpy as np

import autocompyute as ac
from op_cases import B, C, Case, I, U

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
]
