"""Cases for ops/attention.py against a plain numpy softmax attention."""
import numpy as np

import autocompyute.nn.functional as F
from autocompyute.ops.attention import scaled_dot_product_attention as sdpa
from op_cases import B, Case, U


def ref_attention(q, k, v, mask=None, causal=False, scale=None, weights=False):
    """softmax(q k^T * scale + mask) v; a boolean mask keeps True; rows with nothing to attend give zeros."""
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ np.swapaxes(k, -1, -2) * scale
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == bool else s + mask
    if causal:
        s = np.where(np.tril(np.ones(s.shape[-2:], bool)), s, -np.inf)
    top = s.max(-1, keepdims=True)
    e = np.exp(s - np.where(np.isfinite(top), top, 0))
    total = e.sum(-1, keepdims=True)
    p = e / np.where(total > 0, total, 1)
    return (p @ v, p) if weights else p @ v


def _bool_mask(*shape):
    """random True/False with at least one True per row"""
    def make(rng):
        m = rng.random(shape) < 0.6
        m[..., 0] = True
        return m
    return make


CASES = [
    Case("sdpa", lambda q, k, v: sdpa(q, k, v), (U(2, 3, 4, 5), U(2, 3, 6, 5), U(2, 3, 6, 7)), ref_attention),
    Case("sdpa_float_mask", lambda q, k, v, m: sdpa(q, k, v, attn_mask=m), (U(2, 4, 3), U(2, 5, 3), U(2, 5, 2),
                                                                            U(4, 5)),
         lambda q, k, v, m: ref_attention(q, k, v, m)),
    Case("sdpa_bool_mask", lambda q, k, v, m: sdpa(q, k, v, attn_mask=m), (U(2, 2, 4, 3), U(2, 2, 5, 3),
                                                                           U(2, 2, 5, 3), _bool_mask(2, 1, 4, 5)),
         lambda q, k, v, m: ref_attention(q, k, v, m)),
    Case("sdpa_fully_masked_row", lambda q, k, v, m: sdpa(q, k, v, attn_mask=m), (U(3, 3), U(4, 3), U(4, 2),
                                                                                 B(3, 4)),
         lambda q, k, v, m: ref_attention(q, k, v, m)),
    Case("sdpa_causal", lambda q, k, v: sdpa(q, k, v, is_causal=True), (U(2, 5, 4), U(2, 5, 4), U(2, 5, 3)),
         lambda q, k, v: ref_attention(q, k, v, causal=True)),
    Case("sdpa_causal_rectangular_scale", lambda q, k, v: sdpa(q, k, v, is_causal=True, scale=0.3),
         (U(1, 3, 4), U(1, 6, 4), U(1, 6, 4)), lambda q, k, v: ref_attention(q, k, v, causal=True, scale=0.3)),
    Case("sdpa_broadcast_batch", lambda q, k, v: sdpa(q, k, v), (U(2, 3, 4, 5), U(3, 6, 5), U(1, 6, 2)),
         ref_attention),
    Case("sdpa_weights", lambda q, k, v: sdpa(q, k, v, need_weights=True), (U(2, 4, 3), U(2, 5, 3), U(2, 5, 3)),
         lambda q, k, v: ref_attention(q, k, v, weights=True)),
    Case("sdpa_gqa", lambda q, k, v: sdpa(q, k, v, enable_gqa=True), (U(2, 4, 3, 5), U(2, 2, 6, 5), U(2, 2, 6, 3)),
         lambda q, k, v: ref_attention(q, np.repeat(k, 2, axis=1), np.repeat(v, 2, axis=1))),
    Case("sdpa_nn_functional", lambda q, k, v: F.scaled_dot_product_attention(q, k, v), (U(3, 4), U(5, 4), U(5, 2)),
         ref_attention),
]
