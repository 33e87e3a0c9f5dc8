"""Cases for ops/linalg.py: matmul with 1-D operands, batching and broadcast batch dimensions."""
import numpy as np

import autocompyute as ac
from op_cases import Case, I, U

CASES = [
    Case("matmul_2d", lambda a, b: a @ b, (U(3, 4), U(4, 5)), np.matmul),
    Case("matmul_1d_1d", lambda a, b: ac.matmul(a, b), (U(4), U(4)), np.matmul),
    Case("matmul_1d_2d", lambda a, b: a @ b, (U(4), U(4, 5)), np.matmul),
    Case("matmul_2d_1d", lambda a, b: a @ b, (U(3, 4), U(4)), np.matmul),
    Case("matmul_1d_batched", lambda a, b: a @ b, (U(4), U(2, 4, 5)), np.matmul),
    Case("matmul_batched_1d", lambda a, b: a @ b, (U(2, 3, 4), U(4)), np.matmul),
    Case("matmul_batched", lambda a, b: a.matmul(b), (U(2, 3, 4), U(2, 4, 5)), np.matmul),
    Case("matmul_batched_2d", lambda a, b: a @ b, (U(2, 3, 4), U(4, 5)), np.matmul),
    Case("matmul_2d_batched", lambda a, b: a @ b, (U(3, 4), U(2, 4, 5)), np.matmul),
    Case("matmul_broadcast_batch", lambda a, b: a @ b, (U(2, 1, 3, 4), U(5, 4, 2)), np.matmul),
    Case("matmul_reused", lambda a: a @ a @ a.T, (U(3, 3),), lambda a: a @ a @ a.T),
    Case("matmul_int", lambda a, b: a @ b, (I(3, 2, 3, low=-3), I(3, 3, low=-3)), np.matmul, grad=False),
]
