"""Recurrent layers, one Op per layer and direction over the whole sequence (like ONNX's RNN/LSTM/GRU nodes).

Each Op projects every time step's input with one GEMM, loops over time only for the recurrent part (one small
GEMM and a few elementwise ops per step), and writes its backward by hand: a reverse loop that produces the
pre-activation gradients of all steps, then three GEMMs for dx, dW_ih and dW_hh. Layouts and gate orders are
PyTorch's: weights (G*H, I) and (G*H, H); LSTM gates i, f, g, o; GRU gates r, z, n with
n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).
"""
from ..errors import ShapeError
from .base import Op


def sigmoid(xp, x):
    """Overflow-free logistic function."""
    return 0.5 * (1 + xp.tanh(0.5 * x))


def _steps(n, reverse):
    return range(n - 1, -1, -1) if reverse else range(n)


def _project(x, w_ih, bias=None):
    """All time steps' input contributions at once: x (T, B, I) -> (T, B, G*H)."""
    t, b, _ = x.shape
    gx = (x.reshape(t * b, -1) @ w_ih.T).reshape(t, b, -1)
    if bias is not None:
        gx += bias
    return gx


def _weight_grads(dgx, dgh, x, h_prev, w_ih, n_biases):
    """dx, dW_ih, dW_hh (and bias gradients) from the pre-activation gradients of every step (three GEMMs)."""
    t, b, gh = dgx.shape
    dgx2, dgh2 = dgx.reshape(t * b, gh), dgh.reshape(t * b, gh)
    dx = (dgx2 @ w_ih).reshape(x.shape)
    dw_ih = dgx2.T @ x.reshape(t * b, -1)
    dw_hh = dgh2.T @ h_prev.reshape(t * b, -1)
    biases = (dgx2.sum(axis=0), dgh2.sum(axis=0))[:n_biases]
    return (dx, dw_ih, dw_hh) + biases


class RNN(Op):
    """Elman RNN layer: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh). Attributes: nonlinearity ("tanh" or
    "relu"), reverse. Inputs x (T, B, I), h0 (B, H), w_ih (H, I), w_hh (H, H), optional b_ih, b_hh (H,).
    Outputs: every step's h (T, B, H) and the last h (B, H)."""

    def forward(self, x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
        xp = self.xp
        gx = _project(x, w_ih, None if b_ih is None else b_ih + b_hh)
        out, h_prev = xp.empty(gx.shape, gx.dtype), xp.empty(gx.shape, gx.dtype)
        h, w_hh_t = h0, w_hh.T
        for t in _steps(len(x), self.reverse):
            h_prev[t] = h
            pre = gx[t] + h @ w_hh_t
            h = xp.tanh(pre) if self.nonlinearity == "tanh" else xp.maximum(pre, 0)
            out[t] = h
        self.save(x=x, out=out, h_prev=h_prev, w_ih=w_ih, w_hh=w_hh, n_biases=0 if b_ih is None else 2)
        return out, h.copy()

    def backward(self, dout, dh_n):
        s = self.saved
        dpre = self.xp.empty(dout.shape, dout.dtype)
        dh = dh_n
        for t in _steps(len(dout), not self.reverse):
            dh = dh + dout[t]
            h = s.out[t]
            dpre[t] = dh * (1 - h * h) if self.nonlinearity == "tanh" else dh * (h > 0)
            dh = dpre[t] @ s.w_hh
        dx, dw_ih, dw_hh, *db = _weight_grads(dpre, dpre, s.x, s.h_prev, s.w_ih, s.n_biases)
        return (dx, dh, dw_ih, dw_hh, *db)


class LSTM(Op):
    """LSTM layer (gates i, f, g, o): c_t = f * c_{t-1} + i * g, h_t = o * tanh(c_t). Attribute: reverse.
    Inputs x (T, B, I), h0, c0 (B, H), w_ih (4H, I), w_hh (4H, H), optional b_ih, b_hh (4H,).
    Outputs: every step's h (T, B, H), the last h and the last c (B, H)."""

    def forward(self, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None):
        xp = self.xp
        gx = _project(x, w_ih, None if b_ih is None else b_ih + b_hh)       # (T, B, 4H)
        T, B, H = x.shape[0], x.shape[1], h0.shape[-1]
        acts = xp.empty(gx.shape, gx.dtype)                                  # activated gates i, f, g, o
        out, tanh_c = xp.empty((T, B, H), gx.dtype), xp.empty((T, B, H), gx.dtype)
        h_prev, c_prev = xp.empty((T, B, H), gx.dtype), xp.empty((T, B, H), gx.dtype)
        h, c, w_hh_t = h0, c0, w_hh.T
        for t in _steps(T, self.reverse):
            h_prev[t], c_prev[t] = h, c
            a = acts[t]
            a[...] = gx[t] + h @ w_hh_t
            a[:, :2 * H] = sigmoid(xp, a[:, :2 * H])
            a[:, 2 * H:3 * H] = xp.tanh(a[:, 2 * H:3 * H])
            a[:, 3 * H:] = sigmoid(xp, a[:, 3 * H:])
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            c = f * c + i * g
            tanh_c[t] = xp.tanh(c)
            h = o * tanh_c[t]
            out[t] = h
        self.save(x=x, acts=acts, tanh_c=tanh_c, h_prev=h_prev, c_prev=c_prev, w_ih=w_ih, w_hh=w_hh,
                  n_biases=0 if b_ih is None else 2)
        return out, h.copy(), c.copy()

    def backward(self, dout, dh_n, dc_n):
        s = self.saved
        H = dout.shape[-1]
        dgates = self.xp.empty(s.acts.shape, dout.dtype)                    # pre-activation gradients
        dh, dc = dh_n, dc_n
        for t in _steps(len(dout), not self.reverse):
            a, tc = s.acts[t], s.tanh_c[t]
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            dh = dh + dout[t]
            dc = dc + dh * o * (1 - tc * tc)
            d = dgates[t]
            d[:, :H] = dc * g * i * (1 - i)
            d[:, H:2 * H] = dc * s.c_prev[t] * f * (1 - f)
            d[:, 2 * H:3 * H] = dc * i * (1 - g * g)
            d[:, 3 * H:] = dh * tc * o * (1 - o)
            dc = dc * f
            dh = d @ s.w_hh
        dx, dw_ih, dw_hh, *db = _weight_grads(dgates, dgates, s.x, s.h_prev, s.w_ih, s.n_biases)
        return (dx, dh, dc, dw_ih, dw_hh, *db)


class GRU(Op):
    """GRU layer (gates r, z, n): n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h_t = (1 - z) * n + z * h_{t-1}.
    Attribute: reverse. Inputs x (T, B, I), h0 (B, H), w_ih (3H, I), w_hh (3H, H), optional b_ih, b_hh (3H,).
    Outputs: every step's h (T, B, H) and the last h (B, H)."""

    def forward(self, x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
        xp = self.xp
        gx = _project(x, w_ih, b_ih)                                        # (T, B, 3H)
        T, B, H = x.shape[0], x.shape[1], h0.shape[-1]
        rz = xp.empty((T, B, 2 * H), gx.dtype)
        n_all, hn_all = xp.empty((T, B, H), gx.dtype), xp.empty((T, B, H), gx.dtype)
        out, h_prev = xp.empty((T, B, H), gx.dtype), xp.empty((T, B, H), gx.dtype)
        h, w_hh_t = h0, w_hh.T
        for t in _steps(T, self.reverse):
            h_prev[t] = h
            gh = h @ w_hh_t                                                  # (B, 3H)
            if b_hh is not None:
                gh += b_hh
            rz[t] = sigmoid(xp, gx[t, :, :2 * H] + gh[:, :2 * H])
            r, z = rz[t, :, :H], rz[t, :, H:]
            hn_all[t] = gh[:, 2 * H:]
            n_all[t] = xp.tanh(gx[t, :, 2 * H:] + r * hn_all[t])
            h = n_all[t] + z * (h - n_all[t])
            out[t] = h
        self.save(x=x, rz=rz, n=n_all, hn=hn_all, h_prev=h_prev, w_ih=w_ih, w_hh=w_hh,
                  n_biases=0 if b_ih is None else 2)
        return out, h.copy()

    def backward(self, dout, dh_n):
        xp, s = self.xp, self.saved
        H = dout.shape[-1]
        dgx, dgh = xp.empty(s.rz.shape[:2] + (3 * H,), dout.dtype), xp.empty(s.rz.shape[:2] + (3 * H,), dout.dtype)
        dh = dh_n
        for t in _steps(len(dout), not self.reverse):
            r, z, n = s.rz[t, :, :H], s.rz[t, :, H:], s.n[t]
            dh = dh + dout[t]
            dn = dh * (1 - z) * (1 - n * n)
            dgx[t, :, :H] = dn * s.hn[t] * r * (1 - r)
            dgx[t, :, H:2 * H] = dh * (s.h_prev[t] - n) * z * (1 - z)
            dgx[t, :, 2 * H:] = dn
            dgh[t, :, :2 * H] = dgx[t, :, :2 * H]
            dgh[t, :, 2 * H:] = dn * r
            dh = dh * z + dgh[t] @ s.w_hh
        dx, dw_ih, dw_hh, *db = _weight_grads(dgx, dgh, s.x, s.h_prev, s.w_ih, s.n_biases)
        return (dx, dh, dw_ih, dw_hh, *db)


# ---- functions over one layer and direction (nn.RNN/LSTM/GRU stack them) ----
def _check(name, x, h0, w_ih, w_hh, gates, biases):
    if x.ndim != 3 or h0.ndim != 2 or w_ih.ndim != 2 or w_hh.ndim != 2:
        raise ShapeError(f"{name}: expected x (T, B, I), h0 (B, H), w_ih (G*H, I), w_hh (G*H, H); got "
                         f"{tuple(x.shape)}, {tuple(h0.shape)}, {tuple(w_ih.shape)}, {tuple(w_hh.shape)}")
    hidden = w_hh.shape[1]
    if (w_ih.shape != (gates * hidden, x.shape[2]) or w_hh.shape != (gates * hidden, hidden)
            or h0.shape != (x.shape[1], hidden)):
        raise ShapeError(f"{name}: shapes do not fit: x {tuple(x.shape)}, h0 {tuple(h0.shape)}, "
                         f"w_ih {tuple(w_ih.shape)}, w_hh {tuple(w_hh.shape)} ({gates} gates)")
    if any(b is not None and tuple(b.shape) != (gates * hidden,) for b in biases):
        raise ShapeError(f"{name}: biases must have shape ({gates * hidden},)")


def _biases(b_ih, b_hh):
    if (b_ih is None) != (b_hh is None):
        raise ValueError("pass both biases or neither")
    return () if b_ih is None else (b_ih, b_hh)


def rnn_layer(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh", reverse=False):
    """One Elman RNN layer over a whole sequence: returns (output (T, B, H), h_n (B, H))."""
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"rnn: nonlinearity must be 'tanh' or 'relu', not {nonlinearity!r}")
    _check("rnn", x, h0, w_ih, w_hh, 1, (b_ih, b_hh))
    return RNN.apply(x, h0, w_ih, w_hh, *_biases(b_ih, b_hh), nonlinearity=nonlinearity, reverse=bool(reverse))


def lstm_layer(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False):
    """One LSTM layer over a whole sequence: returns (output (T, B, H), h_n (B, H), c_n (B, H))."""
    _check("lstm", x, h0, w_ih, w_hh, 4, (b_ih, b_hh))
    if c0.shape != h0.shape:
        raise ShapeError(f"lstm: c0 {tuple(c0.shape)} must have h0's shape {tuple(h0.shape)}")
    return LSTM.apply(x, h0, c0, w_ih, w_hh, *_biases(b_ih, b_hh), reverse=bool(reverse))


def gru_layer(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False):
    """One GRU layer over a whole sequence: returns (output (T, B, H), h_n (B, H))."""
    _check("gru", x, h0, w_ih, w_hh, 3, (b_ih, b_hh))
    return GRU.apply(x, h0, w_ih, w_hh, *_biases(b_ih, b_hh), reverse=bool(reverse))
