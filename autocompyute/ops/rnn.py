"""Recurrent layers, one Op per layer and direction over the whole sequence (like ONNX's RNN/LSTM/GRU nodes).

Each Op projects every time step's input with one GEMM, loops over time only for the recurrent part (one small
GEMM and a few elementwise ops per step), and writes its backward by hand: a reverse loop that produces the
pre-activation gradients of all steps, then three GEMMs for dx, dW_ih and dW_hh. Layouts and gate orders are
PyTorch's: weights (G*H, I) and (G*H, H); LSTM gates i, f, g, o; GRU gates r, z, n with
n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).
"""
from ..errors import ShapeError
from .base import Op


def _steps(n, reverse):
    return range(n - 1, -1, -1) if reverse else range(n)


def _project(x, w_ih, bias=None):
    """All time steps' input contributions at once: x (T, B, I) -> (T, B, G*H)."""
    t, b, _ = x.shape
    gx = (x.reshape(t * b, -1) @ w_ih.T).reshape(t, b, -1)
    if bias is not None:
        gx += bias
    return gx


def _shifted(xp, out, h0, reverse):
    """The state each step started from: h0 at the first step processed, else the previous step's output."""
    prev = xp.empty_like(out)
    if reverse:
        prev[:-1], prev[-1] = out[1:], h0
    else:
        prev[1:], prev[0] = out[:-1], h0
    return prev


def _half_rows(xp, n_rows, full, dtype):
    """Row scales 0.5 except for the blocks in `full`: the gates computed as sigmoid(z) = 0.5 + 0.5 * tanh(z / 2)
    get their pre-activation halved through the weights, so one tanh call serves every gate of a step."""
    scale = xp.full(n_rows, 0.5, dtype=dtype)
    scale[full] = 1
    return scale


def _weight_grads(op, dgx, dgh, x, h_prev, w_ih, n_biases):
    """dx, dW_ih, dW_hh (and bias gradients) from the pre-activation gradients of every step (three GEMMs; dx is
    skipped for an input that needs no gradient, like a first layer's data)."""
    t, b, gh = dgx.shape
    dgx2, dgh2 = dgx.reshape(t * b, gh), dgh.reshape(t * b, gh)
    dx = (dgx2 @ w_ih).reshape(x.shape) if op.inputs[0].requires_grad else None
    dw_ih = dgx2.T @ x.reshape(t * b, -1)
    dw_hh = dgh2.T @ h_prev.reshape(t * b, -1)
    if not n_biases:
        return dx, dw_ih, dw_hh
    db_ih = dgx2.sum(axis=0)
    # two arrays, since an optimizer or a clipper may edit gradients in place
    return dx, dw_ih, dw_hh, db_ih, db_ih.copy() if dgh is dgx else dgh2.sum(axis=0)


class RNN(Op):
    """Elman RNN layer: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh). Attributes: nonlinearity ("tanh" or
    "relu"), reverse. Inputs x (T, B, I), h0 (B, H), w_ih (H, I), w_hh (H, H), optional b_ih, b_hh (H,).
    Outputs: every step's h (T, B, H) and the last h (B, H)."""

    def forward(self, x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
        xp = self.xp
        gx = _project(x, w_ih, None if b_ih is None else b_ih + b_hh)       # (T, B, H)
        out = xp.empty(gx.shape, gx.dtype)
        h, w_hh_t = h0, xp.ascontiguousarray(w_hh.T)                         # contiguous: a faster small GEMM
        for t in _steps(len(x), self.reverse):
            h = xp.matmul(h, w_hh_t, out=out[t])
            h += gx[t]
            if self.nonlinearity == "tanh":
                xp.tanh(h, out=h)
            else:
                xp.maximum(h, 0, out=h)
        self.save(x=x, h0=h0, out=out, w_ih=w_ih, w_hh=w_hh, n_biases=0 if b_ih is None else 2)
        return out, h.copy()

    def backward(self, dout, dh_n):
        xp, s = self.xp, self.saved
        deriv = 1 - s.out * s.out if self.nonlinearity == "tanh" else (s.out > 0).astype(dout.dtype)
        dpre = xp.empty(dout.shape, dout.dtype)                             # (T, B, H)
        dh = dh_n
        for t in _steps(len(dout), not self.reverse):
            dh = dh + dout[t]
            xp.multiply(dh, deriv[t], out=dpre[t])
            dh = dpre[t] @ s.w_hh
        h_prev = _shifted(xp, s.out, s.h0, self.reverse)
        dx, dw_ih, dw_hh, *db = _weight_grads(self, dpre, dpre, s.x, h_prev, s.w_ih, s.n_biases)
        return (dx, dh, dw_ih, dw_hh, *db)


class LSTM(Op):
    """LSTM layer (gates i, f, g, o): c_t = f * c_{t-1} + i * g, h_t = o * tanh(c_t). Attribute: reverse.
    Inputs x (T, B, I), h0, c0 (B, H), w_ih (4H, I), w_hh (4H, H), optional b_ih, b_hh (4H,).
    Outputs: every step's h (T, B, H), the last h and the last c (B, H)."""

    def forward(self, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None):
        xp = self.xp
        T, B, H = x.shape[0], x.shape[1], h0.shape[-1]
        half = _half_rows(xp, 4 * H, slice(2 * H, 3 * H), w_hh.dtype)       # i, f, o via tanh(z / 2)
        gx = _project(x, w_ih * half[:, None], None if b_ih is None else (b_ih + b_hh) * half)   # (T, B, 4H)
        w_hh_t = xp.ascontiguousarray((w_hh * half[:, None]).T)
        acts = xp.empty(gx.shape, gx.dtype)                                  # activated gates i, f, g, o
        out, cs, tanh_c = (xp.empty((T, B, H), gx.dtype) for _ in range(3))
        h, c = h0, c0
        for t in _steps(T, self.reverse):
            a = xp.matmul(h, w_hh_t, out=acts[t])
            a += gx[t]
            xp.tanh(a, out=a)
            for sig in (a[:, :2 * H], a[:, 3 * H:]):                         # sigmoid = 0.5 + 0.5 * tanh(z / 2)
                sig *= 0.5
                sig += 0.5
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            c = xp.add(f * c, i * g, out=cs[t])
            h = xp.multiply(o, xp.tanh(c, out=tanh_c[t]), out=out[t])
        self.save(x=x, h0=h0, c0=c0, acts=acts, out=out, cs=cs, tanh_c=tanh_c, w_ih=w_ih, w_hh=w_hh,
                  n_biases=0 if b_ih is None else 2)
        return out, h.copy(), c.copy()

    def backward(self, dout, dh_n, dc_n):
        xp, s = self.xp, self.saved
        H = dout.shape[-1]
        acts, tc = s.acts, s.tanh_c
        # derivatives of the activations and of h w.r.t. c, for all steps at once
        deriv = acts * (1 - acts)                                            # sigmoid gates
        g = acts[..., 2 * H:3 * H]
        deriv[..., 2 * H:3 * H] = 1 - g * g                                  # tanh gate
        o_dtanh = acts[..., 3 * H:] * (1 - tc * tc)
        c_prev = _shifted(xp, s.cs, s.c0, self.reverse)
        dgates = xp.empty(acts.shape, dout.dtype)                           # pre-activation gradients
        dh, dc = dh_n, dc_n
        for t in _steps(len(dout), not self.reverse):
            a, d = acts[t], dgates[t]
            dh = dh + dout[t]
            dc = dc + dh * o_dtanh[t]
            xp.multiply(dc, a[:, 2 * H:3 * H], out=d[:, :H])                 # d i = dc * g
            xp.multiply(dc, c_prev[t], out=d[:, H:2 * H])                    # d f = dc * c_prev
            xp.multiply(dc, a[:, :H], out=d[:, 2 * H:3 * H])                 # d g = dc * i
            xp.multiply(dh, tc[t], out=d[:, 3 * H:])                         # d o = dh * tanh(c)
            d *= deriv[t]
            dc = dc * a[:, H:2 * H]
            dh = d @ s.w_hh
        h_prev = _shifted(xp, s.out, s.h0, self.reverse)
        dx, dw_ih, dw_hh, *db = _weight_grads(self, dgates, dgates, s.x, h_prev, s.w_ih, s.n_biases)
        return (dx, dh, dc, dw_ih, dw_hh, *db)


class GRU(Op):
    """GRU layer (gates r, z, n): n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h_t = (1 - z) * n + z * h_{t-1}.
    Attribute: reverse. Inputs x (T, B, I), h0 (B, H), w_ih (3H, I), w_hh (3H, H), optional b_ih, b_hh (3H,).
    Outputs: every step's h (T, B, H) and the last h (B, H)."""

    def forward(self, x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
        xp = self.xp
        T, B, H = x.shape[0], x.shape[1], h0.shape[-1]
        half = _half_rows(xp, 3 * H, slice(2 * H, 3 * H), w_hh.dtype)       # r, z via tanh(z / 2)
        gx = _project(x, w_ih * half[:, None], None if b_ih is None else b_ih * half)   # (T, B, 3H)
        w_hh_t = xp.ascontiguousarray((w_hh * half[:, None]).T)
        b_hh = None if b_hh is None else b_hh * half
        gh = xp.empty(gx.shape, gx.dtype)                                    # W_hh h + b_hh (r, z halved)
        rz = xp.empty((T, B, 2 * H), gx.dtype)
        n, out = xp.empty((T, B, H), gx.dtype), xp.empty((T, B, H), gx.dtype)
        h = h0
        for t in _steps(T, self.reverse):
            xp.matmul(h, w_hh_t, out=gh[t])
            if b_hh is not None:
                gh[t] += b_hh
            r_z = xp.add(gx[t, :, :2 * H], gh[t, :, :2 * H], out=rz[t])
            xp.tanh(r_z, out=r_z)
            r_z *= 0.5                                                       # sigmoid = 0.5 + 0.5 * tanh(z / 2)
            r_z += 0.5
            r, z = r_z[:, :H], r_z[:, H:]
            n_t = xp.multiply(r, gh[t, :, 2 * H:], out=n[t])
            n_t += gx[t, :, 2 * H:]
            xp.tanh(n_t, out=n_t)
            h_new = xp.subtract(h, n_t, out=out[t])                          # h = n + z * (h - n)
            h_new *= z
            h_new += n_t
            h = h_new
        self.save(x=x, h0=h0, rz=rz, n=n, hn=gh[..., 2 * H:], out=out, w_ih=w_ih, w_hh=w_hh,
                  n_biases=0 if b_ih is None else 2)
        return out, h.copy()

    def backward(self, dout, dh_n):
        xp, s = self.xp, self.saved
        H = dout.shape[-1]
        r, z, n = s.rz[..., :H], s.rz[..., H:], s.n
        h_prev = _shifted(xp, s.out, s.h0, self.reverse)
        # the factors that turn dh into each pre-activation gradient, for all steps at once
        to_n = (1 - z) * (1 - n * n)                                        # dh -> d n_pre
        to_r = s.hn * r * (1 - r)                                            # d n_pre -> d r_pre
        to_z = (h_prev - n) * z * (1 - z)                                    # dh -> d z_pre
        dgx, dgh = xp.empty(dout.shape[:2] + (3 * H,), dout.dtype), xp.empty(dout.shape[:2] + (3 * H,), dout.dtype)
        dh = dh_n
        for t in _steps(len(dout), not self.reverse):
            dh = dh + dout[t]
            dn = xp.multiply(dh, to_n[t], out=dgx[t, :, 2 * H:])
            xp.multiply(dn, to_r[t], out=dgx[t, :, :H])
            xp.multiply(dh, to_z[t], out=dgx[t, :, H:2 * H])
            dgh[t, :, :2 * H] = dgx[t, :, :2 * H]
            xp.multiply(dn, r[t], out=dgh[t, :, 2 * H:])
            dh = dh * z[t] + dgh[t] @ s.w_hh
        dx, dw_ih, dw_hh, *db = _weight_grads(self, dgx, dgh, s.x, h_prev, s.w_ih, s.n_biases)
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
