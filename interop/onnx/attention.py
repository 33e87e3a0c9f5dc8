"""Import rule for ONNX's Attention (opset 23), composed from Tensor ops."""
import math

import numpy as np

import autocompyute.functional as F

from .import_util import const
from .registry import import_rule


def _heads(t, n_heads):
    """(B, S, H*D) -> (B, H, S, D); 4-D inputs are already (B, H, S, D)."""
    if t.ndim == 4:
        return t
    b, s, hd = t.shape
    return F.permute(F.reshape(t, (b, s, n_heads, hd // n_heads)), (0, 2, 1, 3))


@import_rule("Attention", since=23)
def attention(q, k, v, attn_mask=None, past_key=None, past_value=None, nonpad_kv_seqlen=None, *, is_causal=0,
              kv_num_heads=None, q_num_heads=None, qk_matmul_output_mode=0, scale=None, softcap=0.0,
              softmax_precision=None, ctx):
    three_d = q.ndim == 3
    q, k, v = _heads(q, q_num_heads), _heads(k, kv_num_heads), _heads(v, kv_num_heads)
    if past_key is not None:
        k, v = F.cat([past_key, k], 2), F.cat([past_value, v], 2)
    present_k, present_v = k, v
    if nonpad_kv_seqlen is not None or qk_matmul_output_mode:
        raise ValueError("Attention: nonpad_kv_seqlen and qk_matmul_output_mode are not supported")
    groups = q.shape[1] // k.shape[1]
    if groups > 1:  # grouped-query attention: each K/V head serves `groups` query heads
        b, h, s, d = k.shape
        k = F.reshape(F.expand(F.unsqueeze(k, 2), (b, h, groups, s, d)), (b, h * groups, s, d))
        v = F.reshape(F.expand(F.unsqueeze(v, 2), (b, h, groups, s, v.shape[-1])), (b, h * groups, s, v.shape[-1]))
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = F.matmul(q, k.mT) * scale                                  # (B, H, Sq, Skv)
    if softcap:
        scores = F.tanh(scores * (1 / softcap)) * softcap
    sq, skv = scores.shape[-2:]
    neg = const(np.asarray(-np.inf, scores.dtype), scores)
    if attn_mask is not None:
        if attn_mask.dtype == np.bool_:
            scores = F.where(attn_mask, scores, neg)
        else:
            scores = scores + attn_mask
    if is_causal:
        keep = np.tril(np.ones((sq, skv), bool), skv - sq)
        scores = F.where(const(keep, scores), scores, neg)
    y = F.matmul(F.softmax(scores, -1), v)                              # (B, H, Sq, Dv)
    if three_d:
        b, h, s, d = y.shape
        y = F.reshape(F.permute(y, (0, 2, 1, 3)), (b, s, h * d))
    n_out = len(ctx.node.outputs)
    return (y, present_k, present_v)[:max(n_out, 1)] if n_out > 1 else y
