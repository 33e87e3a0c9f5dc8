"""Cases for ops/rnn.py, against step-by-step numpy recurrences written from PyTorch's documented equations.
tests/test_nn_rnn.py reuses the references for the stacked, bidirectional layers."""
import numpy as np

from autocompyute.ops import rnn as R
from cases_elementwise import _sigmoid
from op_cases import Case, U


def ref_rnn(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh", reverse=False):
    b_ih = 0 if b_ih is None else b_ih
    b_hh = 0 if b_hh is None else b_hh
    act = np.tanh if nonlinearity == "tanh" else (lambda v: np.maximum(v, 0))
    h, out = h0, np.zeros(x.shape[:2] + h0.shape[-1:])
    for t in (reversed(range(len(x))) if reverse else range(len(x))):
        h = act(x[t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh)
        out[t] = h
    return out, h


def ref_lstm(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False):
    b = 0 if b_ih is None else b_ih + b_hh
    h, c, out = h0, c0, np.zeros(x.shape[:2] + h0.shape[-1:])
    for t in (reversed(range(len(x))) if reverse else range(len(x))):
        i, f, g, o = np.split(x[t] @ w_ih.T + h @ w_hh.T + b, 4, axis=-1)
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        out[t] = h
    return out, h, c


def ref_gru(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False):
    b_ih = np.zeros(w_ih.shape[0]) if b_ih is None else b_ih
    b_hh = np.zeros(w_hh.shape[0]) if b_hh is None else b_hh
    w_ir, w_iz, w_in = np.split(w_ih, 3)
    w_hr, w_hz, w_hn = np.split(w_hh, 3)
    b_ir, b_iz, b_in = np.split(b_ih, 3)
    b_hr, b_hz, b_hn = np.split(b_hh, 3)
    h, out = h0, np.zeros(x.shape[:2] + h0.shape[-1:])
    for t in (reversed(range(len(x))) if reverse else range(len(x))):
        r = _sigmoid(x[t] @ w_ir.T + b_ir + h @ w_hr.T + b_hr)
        z = _sigmoid(x[t] @ w_iz.T + b_iz + h @ w_hz.T + b_hz)
        n = np.tanh(x[t] @ w_in.T + b_in + r * (h @ w_hn.T + b_hn))
        h = (1 - z) * n + z * h
        out[t] = h
    return out, h


T, B, I, H = 4, 3, 5, 4


def W(*shape):
    return U(*shape, low=-0.7, high=0.7)


def _inputs(gates, bias=True, state=1):
    return (U(T, B, I),) + (U(B, H, low=-1, high=1),) * state + (W(gates * H, I), W(gates * H, H)) + \
        ((W(gates * H), W(gates * H)) if bias else ())


TOL = dict(rtol=1e-5, atol=1e-5)

CASES = [
    Case("rnn_tanh", lambda *a: R.rnn_layer(*a), _inputs(1), lambda *a: ref_rnn(*a), **TOL),
    Case("rnn_relu_reverse", lambda *a: R.rnn_layer(*a, nonlinearity="relu", reverse=True), _inputs(1),
         lambda *a: ref_rnn(*a, nonlinearity="relu", reverse=True), **TOL),
    Case("rnn_no_bias", lambda *a: R.rnn_layer(*a), _inputs(1, bias=False), lambda *a: ref_rnn(*a), **TOL),
    Case("lstm", lambda *a: R.lstm_layer(*a), _inputs(4, state=2), lambda *a: ref_lstm(*a), **TOL),
    Case("lstm_reverse", lambda *a: R.lstm_layer(*a, reverse=True), _inputs(4, state=2),
         lambda *a: ref_lstm(*a, reverse=True), **TOL),
    Case("lstm_no_bias", lambda *a: R.lstm_layer(*a), _inputs(4, bias=False, state=2), lambda *a: ref_lstm(*a),
         **TOL),
    Case("gru", lambda *a: R.gru_layer(*a), _inputs(3), lambda *a: ref_gru(*a), **TOL),
    Case("gru_reverse", lambda *a: R.gru_layer(*a, reverse=True), _inputs(3), lambda *a: ref_gru(*a, reverse=True),
         **TOL),
    Case("gru_no_bias", lambda *a: R.gru_layer(*a), _inputs(3, bias=False), lambda *a: ref_gru(*a), **TOL),
]
