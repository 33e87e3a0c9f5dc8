"""Scaled dot-product attention as one fused Op: two batched GEMMs forward, four backward, softmax in between.

softmax(q @ k^T * scale + mask) @ v with PyTorch's semantics: a boolean mask says where to attend (True), a
float mask is added to the scores; `causal` keeps the lower triangle (top-left aligned when L != S). Rows
whose every key is masked give zeros rather than NaN.
"""
import math

import numpy as np

from .. import backends
from ..errors import ShapeError
from .base import Op


class ScaledDotProductAttention(Op):
    """Inputs q (..., L, E), k (..., S, E), v (..., S, Ev), optional float mask broadcastable to (..., L, S).
    Attributes: scale, causal, dropout_p, need_weights (a second output: the attention weights, after dropout,
    (..., L, S)). Batch dims broadcast like matmul's."""

    def forward(self, q, k, v, mask=None):
        xp = self.xp
        scores = q @ k.swapaxes(-1, -2)                                   # (..., L, S), new: updated in place
        scores *= self.scale
        if mask is not None:
            scores = scores + mask
        if self.causal:
            L, S = scores.shape[-2:]
            xp.copyto(scores, -xp.inf, where=~xp.tri(L, S, dtype=bool))
        if not self._bounded(q, k, mask, scores.shape[-1]):               # else exp cannot overflow unshifted
            top = backends.last_axis_max(xp, scores)
            scores -= xp.where(xp.isfinite(top), top, 0)
        p = xp.exp(scores, out=scores)
        total = backends.last_axis_sum(xp, p)
        p /= xp.where(total > 0, total, 1)                                # fully masked rows stay 0
        keep = None
        if self.dropout_p > 0:
            rng = backends.rng(backends.device_of(q))
            keep = (rng.random(p.shape, dtype=p.dtype) >= self.dropout_p) / p.dtype.type(1 - self.dropout_p)
            weights = p * keep
        else:
            weights = p
        out = weights @ v                                                 # (..., L, Ev)
        self.save(q=q, k=k, v=v, p=p, keep=keep, weights=weights)
        return (out, weights) if self.need_weights else out

    def _bounded(self, q, k, mask, n_keys):
        """Whether every score is known to lie where exp neither overflows (summed over n_keys) nor underflows:
        |q . k| * scale <= max |q| * max |k| * scale (Cauchy-Schwarz), plus the mask's largest finite magnitude
        (-inf only removes keys: exp gives 0 either way). Then the softmax needs no shift by its row maxima (a
        quarter of its cost on numpy); NaN anywhere fails the test."""
        xp = self.xp
        if xp is not np or q.dtype.kind != "f" or q.size == 0 or k.size == 0:
            return False
        info = np.finfo(q.dtype)
        limit = min(math.log(float(info.max) / max(n_keys, 1)), -math.log(float(info.tiny))) - 2
        squares = [float(backends.last_axis_sum(xp, a * a).max()) for a in (q, k)]     # max |q|^2, max |k|^2
        bound = math.sqrt(squares[0] * squares[1]) * abs(self.scale)
        if mask is not None:
            bound += float(xp.abs(xp.where(xp.isinf(mask), 0, mask)).max())
        return bound <= limit                                             # (False for NaN)

    def backward(self, dout, dweights=None):
        s = self.saved
        dw = dout @ s.v.swapaxes(-1, -2)                                  # (..., L, S)
        if dweights is not None:
            dw = dw + dweights
        dv = s.weights.swapaxes(-1, -2) @ dout
        dp = dw if s.keep is None else dw * s.keep
        ds = s.p * (dp - backends.last_axis_sum(self.xp, dp * s.p))         # softmax backward
        dq = (ds @ s.k) * self.scale
        dk = (ds.swapaxes(-1, -2) @ s.q) * self.scale
        return dq, dk, dv, ds


def _check(q, k, v):
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ShapeError(f"scaled_dot_product_attention: query, key and value need at least 2 dims, got "
                         f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ShapeError(f"scaled_dot_product_attention: query {tuple(q.shape)}, key {tuple(k.shape)} and value "
                         f"{tuple(v.shape)} need query/key feature sizes and key/value lengths to agree")


def _repeat_heads(t, query):
    """(..., Hk, S, E) -> (..., Hq, S, E), each key/value head repeated for Hq / Hk consecutive query heads."""
    hq, hk = query.shape[-3], t.shape[-3]
    if hq == hk:
        return t
    if query.ndim < 3 or t.ndim < 3 or hq % hk:
        raise ShapeError(f"scaled_dot_product_attention: enable_gqa needs query heads {tuple(query.shape)} to be a "
                         f"multiple of key/value heads {tuple(t.shape)} (dim -3)")
    lead, (s, e) = t.shape[:-3], t.shape[-2:]
    return t.unsqueeze(-3).expand(lead + (hk, hq // hk, s, e)).reshape(lead + (hq, s, e))


def additive_mask(mask, like, attend_when=True):
    """A boolean mask (True = attend, or True = masked when attend_when is False) as a float mask of 0 and -inf in
    `like`'s dtype; float masks pass through unchanged. It is a Where in the graph, so that a model exported with a
    mask input reads the mask it is given rather than the example's."""
    from ..tensor import Tensor
    from .binary import where

    if mask is None or mask.dtype.kind == "f":
        return mask
    xp = like.xp
    zero, minus_inf = Tensor(xp.zeros((), like.dtype)), Tensor(xp.full((), -xp.inf, like.dtype))
    return where(mask, zero, minus_inf) if attend_when else where(mask, minus_inf, zero)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False, need_weights=False):
    """softmax(query @ key^T * scale + mask) @ value, PyTorch's function. attn_mask: bool (True = attend) or float
    (added to the scores), broadcastable to (..., L, S); is_causal applies a lower-triangular mask (not together
    with attn_mask, as in PyTorch); dropout_p drops attention weights (always, like PyTorch's function: pass 0.0
    in eval mode); scale defaults to 1/sqrt(E); enable_gqa lets key and value have fewer heads (dim -3) than query,
    each shared by a group of query heads. need_weights=True also returns the weights (..., L, S)."""
    if enable_gqa:
        key, value = _repeat_heads(key, query), _repeat_heads(value, query)
    _check(query, key, value)
    if attn_mask is not None and is_causal:
        raise ValueError("scaled_dot_product_attention: pass either attn_mask or is_causal=True, not both")
    if not 0 <= dropout_p < 1:
        raise ValueError(f"scaled_dot_product_attention: dropout_p must be in [0, 1), got {dropout_p}")
    scale = 1 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    mask = additive_mask(attn_mask, query)
    args = (query, key, value) if mask is None else (query, key, value, mask)
    return ScaledDotProductAttention.apply(*args, scale=scale, causal=bool(is_causal), dropout_p=float(dropout_p),
                                           need_weights=bool(need_weights))
