"""nn.MultiheadAttention and F.scaled_dot_product_attention against numpy attention (tests/cases_attention.py)."""
import math

import numpy as np
import pytest

import autocompyute as ac
import autocompyute.nn as nn
from autocompyute import optim
import autocompyute.nn.functional as F
from autocompyute.errors import ShapeError
from autocompyute.ops import attention
import op_cases  # noqa: F401  (first: it imports every cases_*.py, cases_attention among them)
from cases_attention import ref_attention
from gradcheck import check_grads
from nn_helpers import rand


def ref_mha(m, query, key, value, key_padding_mask=None, attn_mask=None, is_causal=False, average=True):
    """Batch-major numpy multi-head attention: query (B, L, E), key/value (B, S, kdim/vdim). Boolean masks are
    True where attention is NOT allowed (nn.MultiheadAttention's convention)."""
    p = {n: t.numpy().astype(np.float64) for n, t in m.named_parameters()}
    E, H = m.embed_dim, m.num_heads
    if "in_proj_weight" in p:
        wq, wk, wv = np.split(p["in_proj_weight"], 3)
    else:
        wq, wk, wv = p["q_proj_weight"], p["k_proj_weight"], p["v_proj_weight"]
    bq, bk, bv = np.split(p["in_proj_bias"], 3) if "in_proj_bias" in p else (0, 0, 0)
    B, L, S = query.shape[0], query.shape[1], key.shape[1]

    def heads(x):                                                        # (B, T, E) -> (B, H, T, E/H)
        return x.reshape(B, x.shape[1], H, E // H).transpose(0, 2, 1, 3)
    q, k, v = heads(query @ wq.T + bq), heads(key @ wk.T + bk), heads(value @ wv.T + bv)
    mask = np.zeros((B, H, L, S))
    if attn_mask is not None:
        am = np.where(attn_mask, -np.inf, 0) if attn_mask.dtype == bool else attn_mask
        mask = mask + (am.reshape(B, H, L, S) if am.ndim == 3 else am)
    if key_padding_mask is not None:
        kp = np.where(key_padding_mask, -np.inf, 0) if key_padding_mask.dtype == bool else key_padding_mask
        mask = mask + kp[:, None, None, :]
    out, w = ref_attention(q, k, v, mask, causal=is_causal, weights=True)
    out = out.transpose(0, 2, 1, 3).reshape(B, L, E) @ p["out_proj.weight"].T + p.get("out_proj.bias", 0)
    return out, (w.mean(1) if average else w)


def test_parameters_names_shapes_and_init():
    m = nn.MultiheadAttention(8, 2)
    assert [(n, p.shape) for n, p in m.named_parameters()] == [
        ("in_proj_weight", (24, 8)), ("in_proj_bias", (24,)), ("out_proj.weight", (8, 8)), ("out_proj.bias", (8,))]
    assert not m.in_proj_bias.numpy().any() and not m.out_proj.bias.numpy().any()
    bound = math.sqrt(6 / (8 + 24))
    assert np.abs(m.in_proj_weight.numpy()).max() <= bound
    assert np.abs(m.out_proj.weight.numpy()).max() <= 1 / math.sqrt(8)
    m2 = nn.MultiheadAttention(8, 2, kdim=5, vdim=3, bias=False)
    assert [(n, p.shape) for n, p in m2.named_parameters()] == [
        ("q_proj_weight", (8, 8)), ("k_proj_weight", (8, 5)), ("v_proj_weight", (8, 3)), ("out_proj.weight", (8, 8))]
    with pytest.raises(ValueError):
        nn.MultiheadAttention(10, 3)


@pytest.mark.parametrize("batch_first", [False, True])
def test_self_attention_matches_numpy(batch_first):
    ac.manual_seed(1)
    m = nn.MultiheadAttention(8, 2, batch_first=batch_first)
    m.in_proj_bias.data = rand(24, seed=5)                              # non-zero biases, to see them used
    m.out_proj.bias.data = rand(8, seed=6)
    x = rand(3, 5, 8)                                                   # (B, L, E)
    inp = ac.tensor(x if batch_first else x.transpose(1, 0, 2))
    out, w = m(inp, inp, inp)
    want, want_w = ref_mha(m, x.astype(np.float64), x, x)
    got = out.numpy() if batch_first else out.numpy().transpose(1, 0, 2)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(w.numpy(), want_w, rtol=1e-4, atol=1e-6)
    assert w.shape == (3, 5, 5)


def test_cross_attention_with_masks():
    m = nn.MultiheadAttention(6, 3, batch_first=True)
    q, kv = rand(2, 4, 6, seed=1), rand(2, 7, 6, seed=2)
    kpm = np.zeros((2, 7), bool)
    kpm[0, 5:] = True
    kpm[1, 3] = True
    am = np.random.default_rng(3).random((4, 7)) < 0.3
    am[:, 0] = False
    out, w = m(ac.tensor(q), ac.tensor(kv), ac.tensor(kv), key_padding_mask=ac.tensor(kpm), attn_mask=ac.tensor(am),
               average_attn_weights=False)
    want, want_w = ref_mha(m, q.astype(np.float64), kv, kv, kpm, am, average=False)
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(w.numpy(), want_w, rtol=1e-4, atol=1e-6)
    assert w.shape == (2, 3, 4, 7) and float(w.numpy()[0, :, :, 5:].max()) == 0.0


def test_float_and_per_head_masks_and_kdim_vdim():
    m = nn.MultiheadAttention(4, 2, kdim=3, vdim=5)
    q, k, v = rand(4, 2, 4, seed=1), rand(6, 2, 3, seed=2), rand(6, 2, 5, seed=3)     # (T, B, features)
    am = rand(2 * 2, 4, 6, seed=4)                                      # (B*H, L, S), float: added
    kpm = rand(2, 6, seed=5)
    out, w = m(ac.tensor(q), ac.tensor(k), ac.tensor(v), attn_mask=ac.tensor(am), key_padding_mask=ac.tensor(kpm))
    bm = lambda a: a.transpose(1, 0, 2).astype(np.float64)  # noqa: E731
    want, want_w = ref_mha(m, bm(q), bm(k), bm(v), kpm.astype(np.float64), am.astype(np.float64))
    np.testing.assert_allclose(out.numpy().transpose(1, 0, 2), want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(w.numpy(), want_w, rtol=1e-4, atol=1e-6)


def test_causal_unbatched_and_need_weights_false():
    m = nn.MultiheadAttention(4, 1)
    x = rand(5, 4)
    t = ac.tensor(x)
    out, w = m(t, t, t, need_weights=False, is_causal=True)
    assert w is None and out.shape == (5, 4)
    want, _ = ref_mha(m, x[None].astype(np.float64), x[None], x[None], is_causal=True)
    np.testing.assert_allclose(out.numpy(), want[0], rtol=1e-4, atol=1e-5)
    causal = np.triu(np.ones((5, 5), bool), 1)                           # True = masked, PyTorch's MHA convention
    out2, w2 = m(t, t, t, attn_mask=ac.tensor(causal))
    np.testing.assert_allclose(out2.numpy(), out.numpy(), rtol=1e-5, atol=1e-6)
    assert w2.shape == (5, 5) and np.allclose(np.triu(w2.numpy(), 1), 0)


def test_mha_gradients_float64():
    m = nn.MultiheadAttention(4, 2, batch_first=True).double()
    rng = np.random.default_rng(0)
    q, kv = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4))
    kpm = ac.tensor(np.array([[False] * 4 + [True], [False] * 5]))
    check_grads(lambda q, kv: m(q, kv, kv, key_padding_mask=kpm), [q, kv])
    check_grads(lambda x: m(x, x, x, is_causal=True)[0], [q])
    x = ac.tensor(q)
    out, _ = m(x, x, x)
    out.sum().backward()
    for n, p in m.named_parameters():
        assert p.grad is not None and np.asarray(p.grad).shape == p.shape, n


def test_sdpa_dropout_scales_kept_weights_and_has_consistent_gradients():
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((2, 6, 4)), rng.standard_normal((2, 6, 4)), rng.standard_normal((2, 6, 3))
    ac.manual_seed(3)
    out, w = F.scaled_dot_product_attention(ac.tensor(q), ac.tensor(k), ac.tensor(v), dropout_p=0.5,
                                            need_weights=True)
    _, p = ref_attention(q, k, v, weights=True)
    kept = w.numpy() != 0
    assert 0.2 < kept.mean() < 0.8
    np.testing.assert_allclose(w.numpy()[kept], 2 * p[kept], rtol=1e-12)
    np.testing.assert_allclose(out.numpy(), w.numpy() @ v, rtol=1e-12)

    def fn(q, k, v):
        ac.manual_seed(3)                                                # the same dropout mask every call
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.5, need_weights=True)
    check_grads(fn, [q, k, v])


def test_mha_dropout_only_in_training():
    m = nn.MultiheadAttention(4, 2, dropout=0.5)
    x = ac.randn(5, 2, 4)
    m.eval()
    a, _ = m(x, x, x)
    b, _ = m(x, x, x)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    m.train()
    c, _ = m(x, x, x)
    assert not np.allclose(a.numpy(), c.numpy())


def test_errors():
    q = ac.randn(2, 3, 4)
    with pytest.raises(ValueError):
        F.scaled_dot_product_attention(q, q, q, attn_mask=ac.ones(3, 3), is_causal=True)
    with pytest.raises(ShapeError):
        F.scaled_dot_product_attention(q, ac.randn(2, 3, 5), q)
    m = nn.MultiheadAttention(4, 2)
    with pytest.raises(ShapeError, match="key_padding_mask"):
        m(q, q, q, key_padding_mask=ac.tensor(np.zeros((3, 3), bool)))
    with pytest.raises(ShapeError, match="attn_mask"):
        m(q, q, q, attn_mask=ac.tensor(np.zeros((3, 3), bool)))             # L = S = 2 here
    with pytest.raises(ShapeError):
        m(ac.randn(2, 3, 5), ac.randn(2, 3, 5), ac.randn(2, 3, 5))


def test_tiny_attention_model_trains():
    """One attention layer learns a map of the sequence mean (reachable: uniform weights, then linear maps)."""
    ac.manual_seed(0)
    m = nn.MultiheadAttention(8, 2, batch_first=True)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 6, 8)).astype(np.float32)
    a = rng.standard_normal((8, 8)).astype(np.float32)
    target = np.repeat((x.mean(axis=1) @ a)[:, None], 6, axis=1)
    params = list(m.parameters())

    def loss():
        t = ac.tensor(x)
        out, _ = m(t, t, t, need_weights=False)
        d = out - ac.tensor(target)
        return (d * d).mean()
    first = loss().item()
    opt = optim.SGD(params, lr=0.1)
    for _ in range(100):
        opt.zero_grad()
        loss().backward()
        opt.step()
    assert loss().item() < 0.3 * first


@pytest.mark.parametrize("size", [0.5, 30.0])   # scores within exp's range: no shift; beyond it: the row maxima
@pytest.mark.parametrize("masked", ["none", "float", "rows fully masked", "positive float", "rows far below"])
def test_sdpa_softmax_with_and_without_the_max_shift_matches_the_reference(size, masked):
    """The softmax skips its shift by the row maxima only when a bound on |q . k| * scale (plus the mask's largest
    value) keeps exp from overflowing and underflowing; large scores take the shift. Both give the reference."""
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((2, 3, 5, 8)).astype(np.float32) * s for s in (size, size, 1.0))
    mask = None
    if masked != "none":
        mask = rng.standard_normal((5, 5)).astype(np.float32)
        if masked == "rows fully masked":
            mask[1:3] = -np.inf
        elif masked == "positive float":
            mask += 200.0                                                 # a large positive mask: no bound
        elif masked == "rows far below":     # every key of a row far down: still a softmax (of that row's scores)
            mask[1], mask[2] = -110.0, -1e9
    layer = attention.ScaledDotProductAttention(np)
    layer.scale, layer.causal, layer.dropout_p, layer.need_weights = 1 / math.sqrt(8), False, 0.0, True
    bounded = layer._bounded(q, k, mask, 5)
    assert bounded == (size < 1 and masked in ("none", "float", "rows fully masked"))
    got, p = layer.forward(q, k, v, mask)
    if masked == "rows far below":
        # a row's softmax ignores a constant added to it; at -1e9 float32 keeps scores only to 64: small ones all
        # round to the same value (uniform weights), large ones still make a distribution
        np.testing.assert_allclose(p[..., 2, :].sum(-1), 1.0, rtol=1e-6)
        if size < 1:
            np.testing.assert_allclose(p[..., 2, :], 0.2, rtol=1e-6)
        mask = mask.copy()
        mask[1:3] = 0.0
    ref, ref_p = ref_attention(q, k, v, mask, weights=True)
    if masked == "rows far below":
        ref[..., 2, :], ref_p[..., 2, :] = got[..., 2, :], p[..., 2, :]  # (checked above)
    assert np.isfinite(got).all()
    # (scores near 200 keep float32's 1.5e-5 resolution: both sides round differently there)
    tol = dict(rtol=1e-3, atol=1e-5) if masked in ("positive float", "rows far below") else dict(rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got, ref, **tol)
    np.testing.assert_allclose(p, ref_p, **tol)
