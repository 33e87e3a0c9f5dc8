"""Import rule for ONNX's Attention (opset 23), composed from Tensor ops."""
import math

import numpy as np

import autocompyute.functional as F

from ..errors import OnnxImportError
from .registry import import_rule


def _heads(t, n_heads):
    """(B, S, H*D) -> (B, H, S, D); 4-D inputs are already (B, H, S, D)."""
    if t.ndim == 4:
        return t
    b, s, hd = t.shape
    return F.permute(F.reshape(t, (b, s, n_heads, hd // n_heads)), (0, 2, 1, 3))


def _scale_and_softcap(scale, softcap):
    """A finite scale or none; a softcap at or below 0 caps nothing (as ONNX's reference and onnxruntime read it,
    where the function body would cap at a negative value)."""
    if scale is not None and not math.isfinite(scale):
        raise OnnxImportError(f"Attention: scale {scale} is not a finite number")
    return scale, max(softcap, 0.0)


@import_rule("Attention", since=23)
def attention(q, k, v, attn_mask=None, past_key=None, past_value=None, nonpad_kv_seqlen=None, *, is_causal=0,
              kv_num_heads=None, q_num_heads=None, qk_matmul_output_mode=0, scale=None, softcap=0.0,
              softmax_precision=None, ctx):
    scale, softcap = _scale_and_softcap(scale, softcap)
    if attn_mask is not None and attn_mask.dtype not in (np.bool_, q.dtype):
        attn_mask = F.cast(attn_mask, q.dtype)  # an additive mask of another type: the output has Q's type
    if (is_causal or qk_matmul_output_mode or nonpad_kv_seqlen is not None or softcap or len(ctx.node.outputs) > 3
            or attn_mask is not None and attn_mask.dtype == np.bool_ or q.dtype == np.float16):
        # composed here: the plain and masked cases; the rest runs ONNX's own function body for Attention
        from .control import run_function_body
        attrs = dict(is_causal=is_causal, kv_num_heads=kv_num_heads, q_num_heads=q_num_heads, scale=scale,
                     qk_matmul_output_mode=qk_matmul_output_mode, softcap=softcap,
                     softmax_precision=softmax_precision)
        return run_function_body("Attention", (q, k, v, attn_mask, past_key, past_value, nonpad_kv_seqlen),
                                 {n: a for n, a in attrs.items() if a is not None}, ctx, default_opset=23)
    three_d = q.ndim == 3
    q, k, v = _heads(q, q_num_heads), _heads(k, kv_num_heads), _heads(v, kv_num_heads)
    if past_key is not None:
        k, v = F.cat([past_key, k], 2), F.cat([past_value, v], 2)
    present_k, present_v = k, v
    groups = q.shape[1] // k.shape[1]
    if groups > 1:  # grouped-query attention: each K/V head serves `groups` query heads
        b, h, s, d = k.shape
        k = F.reshape(F.expand(F.unsqueeze(k, 2), (b, h, groups, s, d)), (b, h * groups, s, d))
        v = F.reshape(F.expand(F.unsqueeze(v, 2), (b, h, groups, s, v.shape[-1])), (b, h * groups, s, v.shape[-1]))
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = F.matmul(q, k.mT) * scale                                  # (B, H, Sq, Skv)
    if attn_mask is not None:  # an additive mask (boolean masks run the function body above)
        scores = scores + attn_mask
    y = F.matmul(F.softmax(scores, -1), v)                              # (B, H, Sq, Dv)
    if three_d:
        b, h, s, d = y.shape
        y = F.reshape(F.permute(y, (0, 2, 1, 3)), (b, s, h * d))
    n_out = len(ctx.node.outputs)
    return (y, present_k, present_v)[:max(n_out, 1)] if n_out > 1 else y


@import_rule("Attention", since=25)
def attention_25(*inputs, ctx, **attrs):
    """Opset 25 adds sliding windows (left/right_window_size): ONNX's function body for Attention runs."""
    from .control import run_function_body
    attrs["scale"], attrs["softcap"] = _scale_and_softcap(attrs.get("scale"), attrs.get("softcap", 0.0))
    if attrs["scale"] is None:
        del attrs["scale"]
    return run_function_body("Attention", inputs, attrs, ctx, default_opset=25)


# ---- export ----
from autocompyute.ops import attention as attention_ops  # noqa: E402
from .registry import export_rule  # noqa: E402


@export_rule(attention_ops.ScaledDotProductAttention)
def _export_sdpa(g, op, inputs):
    """The engine's formula in plain ops (every opset): softmax(q k^T * scale + mask) v, where rows whose every
    key is masked give zeros, as in the engine (a Softmax node where no mask can empty a row)."""
    q, k, v = inputs[:3]
    dtype = op.inputs[0].dtype
    rank = op.inputs[1].ndim
    perm = list(range(rank - 2)) + [rank - 1, rank - 2]
    scores = g.add_node("Mul", [g.add_node("MatMul", [q, g.add_node("Transpose", [k], perm=perm)]),
                                g.const(op.scale, dtype)])                     # (..., L, S)
    if len(inputs) > 3:
        scores = g.add_node("Add", [scores, inputs[3]])
    if op.causal:
        L, S = op.out_meta[0][0][-2], op.inputs[1].shape[-2]
        scores = g.add_node("Where", [g.const(np.tri(L, S, dtype=bool)), scores, g.const(-np.inf, dtype)])
    if len(inputs) == 3 and op.inputs[1].shape[-2] > 0:
        # no mask: every row keeps a key (the causal one its diagonal), so a Softmax node is the same
        weights = g.add_node("Softmax", [scores], axis=-1)
    else:
        top = g.reduce("ReduceMax", scores, [-1], True)
        top = g.add_node("Where", [g.add_node("IsInf", [top]), g.const(0.0, dtype), top])
        p = g.add_node("Exp", [g.add_node("Sub", [scores, top])])
        total = g.reduce("ReduceSum", p, [-1], True)
        safe = g.add_node("Where", [g.add_node("Greater", [total, g.const(0.0, dtype)]), total, g.const(1.0, dtype)])
        weights = g.add_node("Div", [p, safe])
    if op.dropout_p > 0:
        weights = g.add_node("Dropout", [weights, g.const(np.asarray(op.dropout_p, dtype)), g.const(np.asarray(True))])
    out = g.add_node("MatMul", [weights, v])
    return [out, weights] if op.need_weights else out
