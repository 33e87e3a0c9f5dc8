"""Cases for ops/onnx_ops.py: GatherMap, Einsum, Pointwise, DFT, Det."""
import numpy as np

from autocompyute.ops import onnx_ops as O
from op_cases import Case, P, U

_IDX = np.array([[0, 5, 5], [11, 2, 7]])            # repeats: the backward must add, not assign
_W = np.array([[[0.5, 0.5], [1.0, 0.0], [0.25, 2.0]], [[1.0, -1.0], [3.0, 0.5], [0.0, 1.0]]])
_IDX2 = np.array([[[0, 1], [5, 5], [3, 13]], [[11, 12], [2, 4], [7, 8]]])  # into two inputs: 12 + 3 values


def _take(x, idx):
    return x.reshape(-1)[idx]


CASES = [
    Case("gather_map", lambda x: O.gather_map([x], _IDX), (U(3, 4),), lambda x: _take(x, _IDX)),
    Case("gather_map_weighted_two_inputs", lambda x, v: O.gather_map([x, v], _IDX2, _W), (U(3, 4), U(3)),
         lambda x, v: (np.concatenate([x.ravel(), v.ravel()])[_IDX2] * _W).sum(-1)),
    Case("einsum_matmul", lambda a, b: O.einsum("ij,jk->ik", a, b), (U(2, 3), U(3, 4)),
         lambda a, b: np.einsum("ij,jk->ik", a, b)),
    Case("einsum_batch_ellipsis", lambda a, b: O.einsum("...ij,...jk", a, b), (U(2, 2, 3), U(2, 3, 4)),
         lambda a, b: np.einsum("...ij,...jk", a, b)),
    Case("einsum_sum_out", lambda a: O.einsum("ij->i", a), (U(3, 4),), lambda a: a.sum(1)),
    Case("einsum_diagonal", lambda a: O.einsum("...ii->...i", a), (U(2, 3, 3),),
         lambda a: np.einsum("...ii->...i", a)),
    Case("einsum_inner_implicit", lambda a, b: O.einsum("i,i", a, b), (U(5), U(5)), lambda a, b: np.einsum("i,i", a, b)),
    Case("atan", lambda x: O.pointwise(x, "atan"), (U(3, 4),), np.arctan),
    Case("asin", lambda x: O.pointwise(x, "asin"), (U(3, 4, low=-0.9, high=0.9),), np.arcsin),
    Case("acos", lambda x: O.pointwise(x, "acos"), (U(3, 4, low=-0.9, high=0.9),), np.arccos),
    Case("tan", lambda x: O.pointwise(x, "tan"), (U(3, 4, low=-1.2, high=1.2),), np.tan),
    Case("floor", lambda x: O.pointwise(x * 3, "floor"), (U(3, 4),), lambda x: np.floor(x * 3)),
    Case("ceil", lambda x: O.pointwise(x * 3, "ceil"), (U(3, 4),), lambda x: np.ceil(x * 3)),
    Case("round", lambda x: O.pointwise(x * 3, "round"), (U(3, 4),), lambda x: np.round(x * 3)),
    Case("sign", lambda x: O.pointwise(x, "sign"), (P(3, 4),), np.sign),
    Case("det", O.det, (lambda r: r.standard_normal((3, 3, 3)) + 3 * np.eye(3),), np.linalg.det),
    Case("dft_real", lambda x: O.dft(x, 6, 1), (U(2, 6, 1),), lambda x: _fft_pairs(np.fft.fft(x[..., 0], axis=1))),
    Case("dft_padded_onesided", lambda x: O.dft(x, 8, 1, onesided=True), (U(2, 5, 1),),
         lambda x: _fft_pairs(np.fft.rfft(x[..., 0], n=8, axis=1))),
    Case("dft_inverse_truncated", lambda x: O.dft(x, 4, 1, inverse=True), (U(2, 6, 2),),
         lambda x: _fft_pairs(np.fft.ifft(x[..., 0] + 1j * x[..., 1], n=4, axis=1))),
    Case("dft_irfft", lambda x: O.dft(x, 6, 1, inverse=True, onesided=True), (U(2, 4, 2),),
         lambda x: np.fft.irfft(x[..., 0] + 1j * x[..., 1], n=6, axis=1)[..., None]),
]


def _fft_pairs(z):
    return np.stack([z.real, z.imag], -1)
