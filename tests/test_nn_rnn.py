"""nn.RNN, nn.LSTM, nn.GRU against step-by-step numpy recurrences (tests/cases_rnn.py), stacked and bidirectional."""
import math

import numpy as np
import pytest

import autocompyute as ac
import autocompyute.nn as nn
from autocompyute import optim
from autocompyute.errors import ShapeError
import op_cases  # noqa: F401  (first: it imports every cases_*.py, cases_rnn among them)
from cases_rnn import ref_gru, ref_lstm, ref_rnn
from gradcheck import check_grads
from nn_helpers import param_arrays

KINDS = {
    "rnn_tanh": (lambda **kw: nn.RNN(**kw), 1),
    "rnn_relu": (lambda **kw: nn.RNN(nonlinearity="relu", **kw), 1),
    "lstm": (lambda **kw: nn.LSTM(**kw), 4),
    "gru": (lambda **kw: nn.GRU(**kw), 3),
}


def ref_stack(kind, params, x, h0, c0=None, num_layers=1, bidirectional=False, bias=True):
    """The whole stacked (bidirectional) layer in numpy; x (T, B, I), h0/c0 (L*D, B, H)."""
    directions = 2 if bidirectional else 1
    hs, cs = [], []
    for layer in range(num_layers):
        outs = []
        for d, suffix in enumerate(("", "_reverse")[:directions]):
            k = layer * directions + d
            w = [params[f"{n}_l{layer}{suffix}"] for n in ("weight_ih", "weight_hh")]
            b = [params[f"{n}_l{layer}{suffix}"] for n in ("bias_ih", "bias_hh")] if bias else [None, None]
            if kind == "lstm":
                out, h, c = ref_lstm(x, h0[k], c0[k], *w, *b, reverse=d == 1)
                cs.append(c)
            elif kind == "gru":
                out, h = ref_gru(x, h0[k], *w, *b, reverse=d == 1)
            else:
                out, h = ref_rnn(x, h0[k], *w, *b, nonlinearity=kind[4:], reverse=d == 1)
            outs.append(out)
            hs.append(h)
        x = np.concatenate(outs, axis=2)
    return (x, np.stack(hs), np.stack(cs)) if kind == "lstm" else (x, np.stack(hs))


@pytest.mark.parametrize("kind", list(KINDS))
def test_parameter_names_shapes_order_and_init(kind):
    make, gates = KINDS[kind]
    m = make(input_size=5, hidden_size=3, num_layers=2, bidirectional=True)
    want = []
    for layer, inp in ((0, 5), (1, 6)):
        for sfx in ("", "_reverse"):
            want += [(f"weight_ih_l{layer}{sfx}", (3 * gates, inp)), (f"weight_hh_l{layer}{sfx}", (3 * gates, 3)),
                     (f"bias_ih_l{layer}{sfx}", (3 * gates,)), (f"bias_hh_l{layer}{sfx}", (3 * gates,))]
    assert [(n, p.shape) for n, p in m.named_parameters()] == want
    bound = 1 / math.sqrt(3)
    values = np.concatenate([p.numpy().ravel() for p in m.parameters()])
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.8 * bound
    assert [n for n, _ in make(input_size=2, hidden_size=2, bias=False).named_parameters()] == \
        ["weight_ih_l0", "weight_hh_l0"]


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, False), (1, True), (2, True)])
def test_matches_numpy_recurrence(kind, layers, bidirectional):
    make, _ = KINDS[kind]
    m = make(input_size=4, hidden_size=5, num_layers=layers, bidirectional=bidirectional)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 3, 4)).astype(np.float32)
    count = layers * (2 if bidirectional else 1)
    h0 = rng.standard_normal((count, 3, 5)).astype(np.float32)
    c0 = rng.standard_normal((count, 3, 5)).astype(np.float32)
    state = (ac.tensor(h0), ac.tensor(c0)) if kind == "lstm" else ac.tensor(h0)
    out, hn = m(ac.tensor(x), state)
    want = ref_stack(kind, param_arrays(m), x.astype(np.float64), h0.astype(np.float64), c0.astype(np.float64),
                     layers, bidirectional)
    assert out.shape == (6, 3, 5 * (2 if bidirectional else 1))
    np.testing.assert_allclose(out.numpy(), want[0], rtol=1e-4, atol=1e-5)
    if kind == "lstm":
        hn, cn = hn
        np.testing.assert_allclose(cn.numpy(), want[2], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(hn.numpy(), want[1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", list(KINDS))
def test_batch_first_default_state_and_no_bias(kind):
    make, _ = KINDS[kind]
    m = make(input_size=3, hidden_size=4, batch_first=True, bias=False, bidirectional=True)
    x = np.random.default_rng(1).standard_normal((2, 5, 3)).astype(np.float32)    # (B, T, I)
    out, hn = m(ac.tensor(x))
    zeros = np.zeros((2, 2, 4))
    want = ref_stack(kind, param_arrays(m), x.transpose(1, 0, 2).astype(np.float64), zeros, zeros, 1, True, bias=False)
    assert out.shape == (2, 5, 8)
    np.testing.assert_allclose(out.numpy(), want[0].transpose(1, 0, 2), rtol=1e-4, atol=1e-5)
    hn = hn[0] if kind == "lstm" else hn
    assert hn.shape == (2, 2, 4)                                                   # (L*D, B, H), not batch-first
    np.testing.assert_allclose(hn.numpy(), want[1], rtol=1e-4, atol=1e-5)


def test_unbatched_input():
    m = nn.LSTM(3, 4, num_layers=2)
    x = np.random.default_rng(2).standard_normal((5, 3)).astype(np.float32)
    out, (hn, cn) = m(ac.tensor(x))
    batched, (hb, cb) = m(ac.tensor(x[:, None]))
    assert out.shape == (5, 4) and hn.shape == (2, 4) and cn.shape == (2, 4)
    np.testing.assert_allclose(out.numpy(), batched.numpy()[:, 0], rtol=1e-6)
    h0 = ac.randn(2, 4)
    out2, _ = nn.GRU(3, 4, num_layers=2)(ac.tensor(x), h0)
    assert out2.shape == (5, 4)


@pytest.mark.parametrize("kind", list(KINDS))
def test_gradients_float64(kind):
    """Input and initial-state gradients by finite differences through a 2-layer bidirectional stack, and one
    weight's gradient along a random direction."""
    make, _ = KINDS[kind]
    m = make(input_size=3, hidden_size=2, num_layers=2, bidirectional=True).double()
    rng = np.random.default_rng(3)
    x, h0, c0 = rng.standard_normal((4, 2, 3)), rng.standard_normal((4, 2, 2)), rng.standard_normal((4, 2, 2))

    def run(x, h0, c0):
        out, hn = m(x, (h0, c0) if kind == "lstm" else h0)
        return (out,) + (tuple(hn) if kind == "lstm" else (hn,))
    check_grads(run, [x, h0, c0], wrt=[0, 1, 2] if kind == "lstm" else [0, 1])

    w = m.weight_hh_l1_reverse
    weights = rng.standard_normal((4, 2, 4))
    m.zero_grad()
    (run(ac.tensor(x), ac.tensor(h0), ac.tensor(c0))[0] * ac.tensor(weights)).sum().backward()
    direction = rng.standard_normal(w.shape)
    base, eps = w.data.copy(), 1e-6

    def value(sign):
        w.data = base + sign * eps * direction
        with ac.no_grad():
            return float((run(ac.tensor(x), ac.tensor(h0), ac.tensor(c0))[0].numpy() * weights).sum())
    numeric = (value(1) - value(-1)) / (2 * eps)
    w.data = base
    np.testing.assert_allclose((np.asarray(w.grad) * direction).sum(), numeric, rtol=1e-6, atol=1e-8)


def test_dropout_only_between_layers_and_only_in_training():
    ac.manual_seed(0)
    m = nn.GRU(3, 4, num_layers=2, dropout=0.5)
    x = ac.randn(5, 2, 3)
    m.eval()
    out_eval, _ = m(x)
    want = ref_stack("gru", param_arrays(m), x.numpy().astype(np.float64), np.zeros((2, 2, 4)), num_layers=2)
    np.testing.assert_allclose(out_eval.numpy(), want[0], rtol=1e-4, atol=1e-5)
    m.train()
    out_train, _ = m(x)
    assert not np.allclose(out_train.numpy(), out_eval.numpy())
    single = nn.GRU(3, 4, dropout=0.5)                      # one layer: nothing to drop between layers
    a, _ = single(x)
    single.eval()
    b, _ = single(x)
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_shape_errors():
    m = nn.LSTM(3, 4, num_layers=2)
    with pytest.raises(ShapeError, match="input_size"):
        m(ac.randn(5, 2, 7))
    with pytest.raises(ShapeError, match="initial state"):
        m(ac.randn(5, 2, 3), (ac.randn(1, 2, 4), ac.randn(1, 2, 4)))
    with pytest.raises(ShapeError):
        m(ac.randn(5, 2, 3), ac.randn(2, 2, 4))
    with pytest.raises(ShapeError):
        nn.GRU(3, 4)(ac.randn(2, 5, 2, 3))
    with pytest.raises(ValueError):
        nn.RNN(3, 4, nonlinearity="gelu")


def test_lstm_learns_to_sum_a_sequence():
    ac.manual_seed(0)
    m, head = nn.LSTM(1, 8, batch_first=True), nn.Linear(8, 1)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (16, 6, 1)).astype(np.float32)
    y = x.sum(axis=1)
    params = list(m.parameters()) + list(head.parameters())

    def loss():
        out, _ = m(ac.tensor(x))
        d = head(out[:, -1]) - ac.tensor(y)
        return (d * d).mean()
    first = loss().item()
    opt = optim.SGD(params, lr=0.1)
    for _ in range(150):
        opt.zero_grad()
        loss().backward()
        opt.step()
    assert loss().item() < 0.1 * first


@pytest.mark.parametrize("kind", list(KINDS))
def test_constant_input_gets_no_gradient_and_biases_get_separate_arrays(kind):
    make, _ = KINDS[kind]
    m = make(input_size=3, hidden_size=2)
    x = ac.randn(4, 2, 3)
    out, _ = m(x)
    out.sum().backward()
    assert x.grad is None
    assert all(p.grad is not None for p in m.parameters())
    assert m.bias_ih_l0.grad is not m.bias_hh_l0.grad
