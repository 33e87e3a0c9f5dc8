"""nn.MultiheadAttention with PyTorch's arguments, parameter names (in_proj_weight, in_proj_bias, out_proj) and
return values, over the fused scaled-dot-product-attention Op."""

from .. import functional as AF
from ..errors import ShapeError
from ..ops import linear as L
from ..ops.attention import ScaledDotProductAttention, additive_mask
from . import init
from .layers import Linear
from .module import Module, empty_parameter


class MultiheadAttention(Module):
    """MultiheadAttention(embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
    kdim=None, vdim=None, batch_first=False).

    forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False) -> (attn_output, attn_weights or None). Inputs are (L, B, E), or
    (B, L, E) with batch_first, or unbatched (L, E). Boolean masks mark positions NOT to attend (True = masked),
    float masks are added to the scores; attn_mask is (L, S) or (B*num_heads, L, S), key_padding_mask (B, S).
    is_causal applies a causal mask (on top of attn_mask, which PyTorch expects to be that same causal mask).
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, device=None, dtype=None):
        super().__init__()
        if embed_dim % num_heads:
            raise ShapeError(f"MultiheadAttention: embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn are not supported")
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.kdim, self.vdim = kdim or embed_dim, vdim or embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout, self.batch_first = float(dropout), batch_first
        E = embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = empty_parameter((3 * E, E), dtype=dtype)
        else:
            self.q_proj_weight = empty_parameter((E, E), dtype=dtype)
            self.k_proj_weight = empty_parameter((E, self.kdim), dtype=dtype)
            self.v_proj_weight = empty_parameter((E, self.vdim), dtype=dtype)
        self.in_proj_bias = empty_parameter((3 * E,), dtype=dtype) if bias else None
        self.out_proj = Linear(E, E, bias=bias, dtype=dtype)
        self.reset_parameters()
        if device is not None:
            self.to(device=device)

    def reset_parameters(self):
        """PyTorch's: xavier_uniform on the projection weights, zero biases; out_proj.weight keeps Linear's init."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def _project(self, query, key, value):
        """The q, k, v projections: one GEMM for self-attention (query is key is value), else three."""
        E, b = self.embed_dim, self.in_proj_bias
        if self._qkv_same_embed_dim and query is key and key is value:
            return AF.chunk(L.linear(query, self.in_proj_weight, b), 3, dim=-1)
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            ws = (w[:E], w[E:2 * E], w[2 * E:])
        else:
            ws = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        bs = (None,) * 3 if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        return tuple(L.linear(x, w, bb) for x, w, bb in zip((query, key, value), ws, bs))

    def _mask(self, attn_mask, key_padding_mask, batch, L_, S, like):
        """attn_mask and key_padding_mask as one additive float mask broadcastable to (B, H, L, S), or None."""
        mask = None
        if attn_mask is not None:
            m = additive_mask(attn_mask, like, attend_when=False)
            if m.shape == (L_, S):
                pass
            elif m.shape == (batch * self.num_heads, L_, S):
                m = m.reshape(batch, self.num_heads, L_, S)
            else:
                raise ShapeError(f"MultiheadAttention: attn_mask {tuple(attn_mask.shape)} must be {(L_, S)} or "
                                 f"{(batch * self.num_heads, L_, S)}")
            mask = m
        if key_padding_mask is not None:
            if tuple(key_padding_mask.shape) != (batch, S):
                raise ShapeError(f"MultiheadAttention: key_padding_mask {tuple(key_padding_mask.shape)} must be "
                                 f"{(batch, S)}")
            m = additive_mask(key_padding_mask, like, attend_when=False).reshape(batch, 1, 1, S)
            mask = m if mask is None else mask + m
        return mask

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ShapeError(f"MultiheadAttention: query, key, value must all be 3-D (or all 2-D, unbatched); got "
                             f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
        batched = query.ndim == 3
        same = query is key and key is value

        def batch_major(x):                                              # -> (B, T, features)
            if not batched:
                return x.unsqueeze(0)
            return x if self.batch_first else x.transpose(0, 1)
        query = batch_major(query)
        key, value = (query, query) if same else (batch_major(key), batch_major(value))
        if key_padding_mask is not None and not batched:
            key_padding_mask = key_padding_mask.unsqueeze(0)
        B, L_, S = query.shape[0], query.shape[1], key.shape[1]
        if query.shape[-1] != self.embed_dim or key.shape[-1] != self.kdim or value.shape[-1] != self.vdim:
            raise ShapeError(f"MultiheadAttention: feature sizes {query.shape[-1]}, {key.shape[-1]}, "
                             f"{value.shape[-1]} do not match embed_dim/kdim/vdim "
                             f"{self.embed_dim}, {self.kdim}, {self.vdim}")
        H, D = self.num_heads, self.head_dim
        q, k, v = (t.reshape(B, t.shape[1], H, D).transpose(1, 2)                   # (B, H, T, D)
                   for t in self._project(query, key, value))
        mask = self._mask(attn_mask, key_padding_mask, B, L_, S, q)
        args = (q, k, v) if mask is None else (q, k, v, mask)
        res = ScaledDotProductAttention.apply(*args, scale=D ** -0.5, causal=bool(is_causal),
                                              dropout_p=self.dropout if self.training else 0.0,
                                              need_weights=bool(need_weights))
        out, weights = res if need_weights else (res, None)              # (B, H, L, D), (B, H, L, S)
        out = self.out_proj(out.transpose(1, 2).reshape(B, L_, self.embed_dim))   # (B, L, E)
        if batched and not self.batch_first:
            out = out.transpose(0, 1)
        if weights is not None and average_attn_weights:
            weights = weights.mean(1)
        if not batched:
            out = out.squeeze(0)
            weights = weights.squeeze(0) if weights is not None else None
        return out, weights

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, " \
               f"batch_first={self.batch_first}"
