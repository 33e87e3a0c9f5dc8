"""Recurrent layers, one Op per layer and direction over the whole sequence (like ONNX's RNN/LSTM/GRU nodes).

Each Op projects every time step's input with one batched GEMM, loops over time only for the recurrent part
(one small GEMM and a few elementwise ops per step, all into preallocated buffers), and writes its backward by
hand: a reverse loop that produces the pre-activation gradients of all steps, then per gate one GEMM each for
dx, dW_ih and dW_hh over all steps. Parameter layouts and gate orders are PyTorch's: weights (G*H, I) and
(G*H, H); LSTM gates i, f, g, o; GRU gates r, z, n with n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).

Inside, the gates are "gate-major": a step's gates are a (G, B, H) array (h (B, H) @ weights (G, H, H)), so
every gate is one contiguous (B, H) block, and over all steps a contiguous (T, B, H) array. The sigmoid gates
are computed as 0.5 + 0.5 * tanh(z / 2), with z halved through the weights, so one tanh call serves all gates.
"""
from ..errors import ShapeError
from .base import Op


def _steps(n, reverse):
    return range(n - 1, -1, -1) if reverse else range(n)


def _gate_major(xp, w, gates, scale=None):
    """A weight (G*H, K) as G matrices (K, H), so that v (..., K) @ result -> (G, ..., H); `scale` (G,) multiplies
    each gate's matrix."""
    wg = w.reshape(gates, -1, w.shape[1]).transpose(0, 2, 1)
    return xp.ascontiguousarray(wg if scale is None else wg * scale[:, None, None])


def _project(x, w_ih_g, bias=None):
    """All time steps' input contributions at once: x (T, B, I), w_ih_g (G, I, H) -> (G, T, B, H)."""
    t, b, _ = x.shape
    gx = x.reshape(t * b, -1) @ w_ih_g                                      # (G, T*B, H)
    if bias is not None:
        gx += bias.reshape(len(w_ih_g), 1, -1)
    return gx.reshape(len(w_ih_g), t, b, -1)


def _states(xp, s0, n, reverse):
    """One (T + 1, B, H) buffer for a state: s0 and every step's result. Returns two (T, B, H) views of it: the
    state each step starts from and the state it produces (so backward needs no shifted copy)."""
    buf = xp.empty((n + 1,) + s0.shape, s0.dtype)
    if reverse:
        buf[n] = s0
        return buf[1:], buf[:-1]
    buf[0] = s0
    return buf[:-1], buf[1:]


def _halves(xp, gates, n_sigmoid, dtype):
    """Gate scales: 0.5 for the first n_sigmoid gates (sigmoid(z) = 0.5 + 0.5 * tanh(z / 2)), 1 for the rest."""
    scale = xp.ones(gates, dtype=dtype)
    scale[:n_sigmoid] = 0.5
    return scale


def _weight_grads(op, dgx, dgh, x, h_prev, w_ih, n_biases):
    """dx, dW_ih, dW_hh (and bias gradients) from the pre-activation gradients of every step, given per gate in
    PyTorch's order (sequences of (T, B, H) arrays): GEMMs over all steps at once (dx is skipped for an input that
    needs no gradient, like a first layer's data)."""
    xp = op.xp
    t, b, hidden = dgx[0].shape
    dgx2, dgh2 = [d.reshape(t * b, hidden) for d in dgx], [d.reshape(t * b, hidden) for d in dgh]
    x2, h2 = x.reshape(t * b, -1), h_prev.reshape(t * b, hidden)
    dx = None
    if op.input_needs_grad(0):
        dx = dgx2[0] @ w_ih[:hidden]
        for k in range(1, len(dgx2)):
            dx += dgx2[k] @ w_ih[k * hidden:(k + 1) * hidden]
        dx = dx.reshape(x.shape)
    dw_ih = xp.concatenate([d.T @ x2 for d in dgx2])                          # (G*H, I)
    dw_hh = xp.concatenate([d.T @ h2 for d in dgh2])                          # (G*H, H)
    if not n_biases:
        return dx, dw_ih, dw_hh
    db_ih = xp.concatenate([d.sum(axis=0) for d in dgx2])
    # two arrays, since an optimizer or a clipper may edit gradients in place
    return dx, dw_ih, dw_hh, db_ih, (db_ih.copy() if dgh is dgx else xp.concatenate([d.sum(axis=0) for d in dgh2]))


class RNN(Op):
    """Elman RNN layer: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh). Attributes: nonlinearity ("tanh" or
    "relu"), reverse. Inputs x (T, B, I), h0 (B, H), w_ih (H, I), w_hh (H, H), optional b_ih, b_hh (H,).
    Outputs: every step's h (T, B, H) and the last h (B, H)."""

    def forward(self, x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
        xp = self.xp
        pre = _project(x, _gate_major(xp, w_ih, 1), None if b_ih is None else b_ih + b_hh)[0]   # (T, B, H)
        w_hh_t = _gate_major(xp, w_hh, 1)[0]                                  # (H, H)
        h_prev, out = _states(xp, h0, len(x), self.reverse)
        for t in _steps(len(x), self.reverse):
            h = xp.matmul(h_prev[t], w_hh_t, out=out[t])
            h += pre[t]
            if self.nonlinearity == "tanh":
                xp.tanh(h, out=h)
            else:
                xp.maximum(h, 0, out=h)
        self.save(x=x, h_prev=h_prev, out=out, w_ih=w_ih, w_hh=w_hh, n_biases=0 if b_ih is None else 2)
        return out, h.copy()

    def backward(self, dout, dh_n):
        xp, s = self.xp, self.saved
        deriv = 1 - s.out * s.out if self.nonlinearity == "tanh" else (s.out > 0).astype(dout.dtype)
        dpre = xp.empty(dout.shape, dout.dtype)                             # (T, B, H)
        dh = dh_n.copy()                                                     # updated in place
        for t in _steps(len(dout), not self.reverse):
            dh += dout[t]
            xp.multiply(dh, deriv[t], out=dpre[t])
            xp.matmul(dpre[t], s.w_hh, out=dh)
        dpre = [dpre]  # the same list for both: the hidden bias's gradient is then a copy, not a second sum
        dx, dw_ih, dw_hh, *db = _weight_grads(self, dpre, dpre, s.x, s.h_prev, s.w_ih, s.n_biases)
        return (dx, dh, dw_ih, dw_hh, *db)


class LSTM(Op):
    """LSTM layer (gates i, f, g, o): c_t = f * c_{t-1} + i * g, h_t = o * tanh(c_t). Attribute: reverse.
    Inputs x (T, B, I), h0, c0 (B, H), w_ih (4H, I), w_hh (4H, H), optional b_ih, b_hh (4H,).
    Outputs: every step's h (T, B, H), the last h and the last c (B, H)."""

    # the forward keeps the gates in the order i, f, o, g: the three sigmoid gates first
    ORDER = [0, 1, 3, 2]

    def forward(self, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None):
        xp = self.xp
        T, B, H = x.shape[0], x.shape[1], h0.shape[-1]
        half = _halves(xp, 4, 3, w_hh.dtype)
        w_ih_g = _gate_major(xp, w_ih, 4)[self.ORDER] * half[:, None, None]   # (4, I, H)
        w_hh_g = _gate_major(xp, w_hh, 4)[self.ORDER] * half[:, None, None]   # (4, H, H)
        bias = None if b_ih is None else (b_ih + b_hh).reshape(4, H)[self.ORDER] * half[:, None]
        acts = _project(x, w_ih_g, bias)                                  # (4, T, B, H), activated in place
        h_prev, out = _states(xp, h0, T, self.reverse)                        # (T, B, H) views of one buffer
        c_prev, cs = _states(xp, c0, T, self.reverse)
        tanh_c, hw, ig = xp.empty((T, B, H), x.dtype), xp.empty((4, B, H), x.dtype), xp.empty((B, H), x.dtype)
        for t in _steps(T, self.reverse):
            a = acts[:, t]                                                   # (4, B, H)
            a += xp.matmul(h_prev[t], w_hh_g, out=hw)
            xp.tanh(a, out=a)
            sig = a[:3]
            sig *= 0.5
            sig += 0.5
            i, f, o, g = a
            c = xp.multiply(f, c_prev[t], out=cs[t])
            c += xp.multiply(i, g, out=ig)
            xp.multiply(o, xp.tanh(c, out=tanh_c[t]), out=out[t])
        self.save(x=x, acts=acts, h_prev=h_prev, c_prev=c_prev, tanh_c=tanh_c, w_ih=w_ih, w_hh=w_hh,
                  n_biases=0 if b_ih is None else 2)
        last = 0 if self.reverse else -1
        return out, out[last].copy(), cs[last].copy()

    def backward(self, dout, dh_n, dc_n):
        xp, s = self.xp, self.saved
        T, B, H = dout.shape
        i, f, o, g = s.acts                                                  # (T, B, H) each
        tc = s.tanh_c
        # for all steps at once, the factors that turn dh and dc into the pre-activation gradients:
        # d(i, f, g) = dc * to_ifg, d o = dh * to_o; and dh's share in dc
        to_ifg = xp.empty((3, T, B, H), dout.dtype)
        xp.multiply(i * (1 - i), g, out=to_ifg[0])
        xp.multiply(f * (1 - f), s.c_prev, out=to_ifg[1])
        xp.multiply(1 - g * g, i, out=to_ifg[2])
        to_o = o * (1 - o) * tc
        dh_to_dc = o * (1 - tc * tc)
        dgates = xp.empty((4, T, B, H), dout.dtype)                          # PyTorch's order i, f, g, o
        w_hh_g = s.w_hh.reshape(4, H, H)                                     # dh = sum over gates of d @ w_hh_g
        dh, dc = dh_n.copy(), dc_n.copy()                                    # updated in place
        dh_g, tmp = xp.empty((4, B, H), dout.dtype), xp.empty((B, H), dout.dtype)
        for t in _steps(T, not self.reverse):
            d = dgates[:, t]                                                 # (4, B, H)
            dh += dout[t]
            dc += xp.multiply(dh, dh_to_dc[t], out=tmp)
            xp.multiply(dc, to_ifg[:, t], out=d[:3])
            xp.multiply(dh, to_o[t], out=d[3])
            dc *= f[t]
            xp.matmul(d, w_hh_g, out=dh_g).sum(axis=0, out=dh)
        dx, dw_ih, dw_hh, *db = _weight_grads(self, dgates, dgates, s.x, s.h_prev, s.w_ih, s.n_biases)
        return (dx, dh, dc, dw_ih, dw_hh, *db)


class GRU(Op):
    """GRU layer (gates r, z, n): n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h_t = (1 - z) * n + z * h_{t-1}.
    Attribute: reverse. Inputs x (T, B, I), h0 (B, H), w_ih (3H, I), w_hh (3H, H), optional b_ih, b_hh (3H,).
    Outputs: every step's h (T, B, H) and the last h (B, H)."""

    def forward(self, x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
        xp = self.xp
        T, B, H = x.shape[0], x.shape[1], h0.shape[-1]
        half = _halves(xp, 3, 2, w_hh.dtype)                                 # r, z via tanh(z / 2)
        gx = _project(x, _gate_major(xp, w_ih, 3, half), None if b_ih is None else b_ih * half.repeat(H))
        w_hh_g = _gate_major(xp, w_hh, 3, half)                              # (3, H, H)
        b_hh = None if b_hh is None else b_hh.reshape(3, 1, H) * half[:, None, None]
        gh = xp.empty(gx.shape, x.dtype)                                     # W_hh h + b_hh (r, z halved)
        rz = gx[:2]                                                          # (2, T, B, H), activated in place
        n = gx[2]                                                            # (T, B, H), likewise
        h_prev, out = _states(xp, h0, T, self.reverse)
        for t in _steps(T, self.reverse):
            hw = xp.matmul(h_prev[t], w_hh_g, out=gh[:, t])                  # (3, B, H)
            if b_hh is not None:
                hw += b_hh
            r_z = rz[:, t]
            r_z += hw[:2]
            xp.tanh(r_z, out=r_z)
            r_z *= 0.5                                                       # sigmoid = 0.5 + 0.5 * tanh(z / 2)
            r_z += 0.5
            r, z = r_z
            n_t = n[t]
            n_t += xp.multiply(r, hw[2], out=out[t])                       # out[t] as scratch here
            xp.tanh(n_t, out=n_t)
            h_new = xp.subtract(h_prev[t], n_t, out=out[t])                  # h = n + z * (h - n)
            h_new *= z
            h_new += n_t
        self.save(x=x, h_prev=h_prev, rz=rz, n=n, hn=gh[2], out=out, w_ih=w_ih, w_hh=w_hh,
                  n_biases=0 if b_ih is None else 2)
        return out, out[0 if self.reverse else -1].copy()

    def backward(self, dout, dh_n):
        xp, s = self.xp, self.saved
        T, B, H = dout.shape
        (r, z), n = s.rz, s.n                                                # (T, B, H) each
        # the factors that turn dh into each pre-activation gradient, for all steps at once
        to_n = (1 - z) * (1 - n * n)                                        # dh -> d n_pre
        to_r = s.hn * r * (1 - r)                                            # d n_pre -> d r_pre
        to_z = (s.h_prev - n) * z * (1 - z)                                  # dh -> d z_pre
        # pre-activation gradients, gates n (input side), r, z, n (hidden side): [1:] is the hidden side's r, z, n
        dg = xp.empty((4, T, B, H), dout.dtype)
        w_hh_g = s.w_hh.reshape(3, H, H)
        dh, dh_g = dh_n.copy(), xp.empty((3, B, H), dout.dtype)             # dh updated in place
        for t in _steps(T, not self.reverse):
            dh += dout[t]
            dn = xp.multiply(dh, to_n[t], out=dg[0, t])
            xp.multiply(dn, to_r[t], out=dg[1, t])
            xp.multiply(dh, to_z[t], out=dg[2, t])
            xp.multiply(dn, r[t], out=dg[3, t])
            dh *= z[t]
            dh += xp.matmul(dg[1:, t], w_hh_g, out=dh_g).sum(axis=0)
        dx, dw_ih, dw_hh, *db = _weight_grads(self, (dg[1], dg[2], dg[0]), dg[1:], s.x, s.h_prev, s.w_ih,
                                              s.n_biases)
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
