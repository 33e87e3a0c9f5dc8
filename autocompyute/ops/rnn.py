"""Recurrent layers, one Op per layer and direction over the whole sequence (like ONNX's RNN/LSTM/GRU nodes).

Each Op loops over time only for the recurrent part (one small GEMM and a few elementwise ops per step, all into
preallocated buffers) and writes its backward by hand: a reverse loop that produces the pre-activation gradients
of all steps, then one GEMM each for dx and the weight gradients over all steps and gates. Parameter layouts and
gate orders are PyTorch's: weights (G*H, I) and (G*H, H); LSTM gates i, f, g, o; GRU gates r, z, n with
n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).

Inside, every state and gate is "feature-major": a step's hidden state is an (H, B) matrix and its gates a
(G*H, B) matrix, a weight in its own layout times the state. Each gate is then a contiguous block of rows, and the
small per-step GEMM runs in the orientation BLAS does fastest (on 2 threads about 1.6x faster than h @ W_hh.T for
batch 32, hidden 128). RNN and LSTM, whose gates are W_hh h + W_ih x + b, run ONE GEMM per step,
[W_hh | W_ih | b] @ (h; x_t; 1), over a buffer that holds every step's input column block (`_stacked`); the GRU,
whose n gate needs W_hn h apart, projects all inputs at once and adds a step's share. The sigmoid gates are
computed as 0.5 + 0.5 * tanh(z / 2), with z halved through the weights, so one tanh call serves all gates. Inputs
and outputs keep the (T, B, H) layout: a transposing copy each way, except that without a backward the output is
a transposed view of the states (which keeps their buffer, for RNN and LSTM the stacked inputs too, alive while
the output lives). The weight GEMMs over all steps are plain: under the engine's threads a recurrence runs with
BLAS's (`parallel.blas_bound`).
"""
from .. import backends, parallel
from ..errors import ShapeError
from .base import Op


def _steps(n, reverse):
    return range(n - 1, -1, -1) if reverse else range(n)


def _gates(w, scale, order=None):
    """A new weight or bias (G*H, ...) with gate k multiplied by scale[k], its gates first put in `order`."""
    g = len(scale)
    wg = w.reshape((g, -1) + w.shape[1:])
    if order is not None:
        wg = wg[order]
    return (wg * scale.reshape((g,) + (1,) * (wg.ndim - 1))).reshape(w.shape)


def _project(xp, x, w_ih, bias=None):
    """The input side of every step at once: x (T, B, I), w_ih (G*H, I), bias (G*H,) -> (G*H, T, B), with the bias
    as one more column of the weight against a row of ones under x (no pass of its own over the result)."""
    t, b, i = x.shape
    xa = xp.empty((i + (bias is not None), t, b), dtype=x.dtype)                # (I [+ 1], T, B)
    xa[:i] = x.transpose(2, 0, 1)
    if bias is not None:
        xa[i] = 1
        w_ih = xp.concatenate([w_ih, bias[:, None]], axis=1)                       # (G*H, I + 1)
    return (w_ih @ xa.reshape(len(xa), t * b)).reshape(len(w_ih), t, b)


def _states(xp, s0, n, reverse):
    """One (T + 1, H, B) buffer for a state: s0 (B, H), transposed, and every step's result. Returns two (T, H, B)
    views of it: the state each step starts from and the state it produces (so backward needs no shifted copy)."""
    buf = xp.empty((n + 1,) + s0.shape[::-1], s0.dtype)
    first, views = (n, (buf[1:], buf[:-1])) if reverse else (0, (buf[:-1], buf[1:]))
    buf[first] = s0.T
    return views


def _swapped(xp, a):
    """a with its last two axes swapped, as a new contiguous array: (T, H, B) states <-> (T, B, H) values, and
    (B, H) <-> (H, B)."""
    return xp.ascontiguousarray(a.swapaxes(-1, -2))


def _stacked(xp, x, h0, reverse, bias):
    """For RNN and LSTM, whose gates are W_hh h + W_ih x + b: one (T + 1, H + I [+ 1], B) buffer whose slot a step
    reads is its input column block (h_prev; x_t; 1), so that a step is ONE GEMM with the weight [W_hh | W_ih | b]
    and no input projection or addition is needed. A step writes its h into the h rows of the slot the next step
    reads. Returns the (T, K, B) slots by the time index of the step that reads them, and the (T, H, B) view of the
    h rows each step writes."""
    (t, b, i), h = x.shape, h0.shape[-1]
    z = xp.empty((t + 1, h + i + bias, b), dtype=x.dtype)
    reads, first = (z[1:], t) if reverse else (z[:-1], 0)                   # (T, K, B)
    reads[:, h:h + i] = x.transpose(0, 2, 1)
    if bias:
        reads[:, h + i] = 1
    z[first, :h] = h0.T
    return reads, (z[:-1] if reverse else z[1:])[:, :h]


def _stacked_weight(xp, w_hh, w_ih, bias):
    """[W_hh | W_ih | b]: (G*H, H + I [+ 1]), the weight of `_stacked`'s columns."""
    return xp.concatenate([w_hh, w_ih] + ([bias[:, None]] if bias is not None else []), axis=1)


def _stacked_grads(op, d, reads, w_ih, n_biases):
    """dx, dW_ih, dW_hh (and bias gradients) of RNN and LSTM from the pre-activation gradients of every step, d
    (G*H, T, B) in PyTorch's gate order, and `_stacked`'s slots: [dW_hh | dW_ih | db] is one GEMM over all
    steps."""
    xp = op.xp
    (gh, t, b), i = d.shape, w_ih.shape[1]
    h = reads.shape[1] - i - (n_biases > 0)
    d2 = d.reshape(gh, t * b)
    cols = _swapped(xp, reads).reshape(t * b, reads.shape[1])                # (T*B, K)
    dw = d2 @ cols                                                             # (G*H, K)
    dx = (d2.T @ w_ih).reshape(t, b, i) if op.input_needs_grad(0) else None
    grads = [dx, xp.ascontiguousarray(dw[:, h:h + i]), xp.ascontiguousarray(dw[:, :h])]
    if n_biases:  # two arrays, since an optimizer or a clipper may edit gradients in place
        grads += [dw[:, -1].copy(), dw[:, -1].copy()]
    return grads


def _output(op, xp, hs):
    """The (T, B, H) output from the (T, H, B) states: a copy where a backward keeps the states, else a view (the
    copy is about 4% of an LSTM's no_grad forward)."""
    return _swapped(xp, hs) if op.needs_grad else hs.transpose(0, 2, 1)


def _halves(xp, gates, n_sigmoid, dtype):
    """Gate scales: 0.5 for the first n_sigmoid gates (sigmoid(z) = 0.5 + 0.5 * tanh(z / 2)), 1 for the rest."""
    scale = xp.ones(gates, dtype=dtype)
    scale[:n_sigmoid] = 0.5
    return scale


def _weight_grads(op, dgx, dgh, x, h_prev, w_ih, n_biases):
    """dx, dW_ih, dW_hh (and bias gradients) from the pre-activation gradients of every step, (G*H, T, B) in
    PyTorch's gate order: dgx the input side's, dgh the hidden side's (the same array where they are equal).
    x (T, B, I), h_prev (T, H, B). One GEMM each over all steps (dx is skipped for an input that needs no
    gradient, like a first layer's data)."""
    xp = op.xp
    gh, t, b = dgx.shape
    dgx2, dgh2 = dgx.reshape(gh, t * b), dgh.reshape(gh, t * b)
    dx = (dgx2.T @ w_ih).reshape(x.shape) if op.input_needs_grad(0) else None
    dw_ih = dgx2 @ x.reshape(t * b, x.shape[2])                                        # (G*H, I)
    dw_hh = dgh2 @ _swapped(xp, h_prev).reshape(t * b, h_prev.shape[1])      # (G*H, H)
    if not n_biases:
        return dx, dw_ih, dw_hh
    db_ih = backends.last_axis_sum(xp, dgx2)[:, 0]          # sums over all steps
    # two arrays, since an optimizer or a clipper may edit gradients in place
    return dx, dw_ih, dw_hh, db_ih, (db_ih.copy() if dgh is dgx else backends.last_axis_sum(xp, dgh2)[:, 0])


class RNN(Op):
    """Elman RNN layer: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh). Attributes: nonlinearity ("tanh" or
    "relu"), reverse. Inputs x (T, B, I), h0 (B, H), w_ih (H, I), w_hh (H, H), optional b_ih, b_hh (H,).
    Outputs: every step's h (T, B, H) and the last h (B, H)."""

    @parallel.blas_bound
    def forward(self, x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
        xp = self.xp
        bias = None if b_ih is None else b_ih + b_hh
        w = _stacked_weight(xp, w_hh, w_ih, bias)                             # (H, H + I [+ 1])
        reads, hs = _stacked(xp, x, h0, self.reverse, bias is not None)        # (T, K, B), (T, H, B)
        for t in _steps(len(x), self.reverse):
            h = xp.matmul(w, reads[t], out=hs[t])
            if self.nonlinearity == "tanh":
                xp.tanh(h, out=h)
            else:
                xp.maximum(h, 0, out=h)
        self.save(reads=reads, hs=hs, w_ih=w_ih, w_hh=w_hh, n_biases=0 if b_ih is None else 2)
        out = _output(self, xp, hs)                                             # (T, B, H)
        return out, out[0 if self.reverse else -1].copy()

    @parallel.blas_bound
    def backward(self, dout, dh_n):
        xp, s = self.xp, self.saved
        deriv = 1 - s.hs * s.hs if self.nonlinearity == "tanh" else (s.hs > 0).astype(dout.dtype)  # (T, H, B)
        dout = _swapped(xp, dout)
        dpre = xp.empty((dout.shape[1],) + dout.shape[::2], dout.dtype)         # (H, T, B)
        dh = _swapped(xp, dh_n)                                              # (H, B), updated in place
        w_hh_t = xp.ascontiguousarray(s.w_hh.T)
        for t in _steps(len(dout), not self.reverse):
            dh += dout[t]
            xp.multiply(dh, deriv[t], out=dpre[:, t])
            xp.matmul(w_hh_t, dpre[:, t], out=dh)
        dx, dw_ih, dw_hh, *db = _stacked_grads(self, dpre, s.reads, s.w_ih, s.n_biases)
        return (dx, dh.T.copy(), dw_ih, dw_hh, *db)


class LSTM(Op):
    """LSTM layer (gates i, f, g, o): c_t = f * c_{t-1} + i * g, h_t = o * tanh(c_t). Attribute: reverse.
    Inputs x (T, B, I), h0, c0 (B, H), w_ih (4H, I), w_hh (4H, H), optional b_ih, b_hh (4H,).
    Outputs: every step's h (T, B, H), the last h and the last c (B, H)."""

    # the forward keeps the gates in the order i, f, o, g: the three sigmoid gates first
    ORDER = [0, 1, 3, 2]

    @parallel.blas_bound
    def forward(self, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None):
        xp = self.xp
        T, B, H = x.shape[0], x.shape[1], h0.shape[-1]
        half = _halves(xp, 4, 3, w_hh.dtype)
        bias = None if b_ih is None else _gates(b_ih + b_hh, half, self.ORDER)
        w = _stacked_weight(xp, _gates(w_hh, half, self.ORDER), _gates(w_ih, half, self.ORDER), bias)  # (4H, K)
        reads, hs = _stacked(xp, x, h0, self.reverse, bias is not None)        # (T, K, B), (T, H, B)
        c_prev, cs = _states(xp, c0, T, self.reverse)
        # every step's activated gates and tanh(c) for the backward; without a backward, every step reuses one
        kept = T if self.needs_grad else 1
        acts = xp.empty((kept, 4 * H, B), x.dtype)
        tanh_c, ig = xp.empty((kept, H, B), x.dtype), xp.empty((H, B), x.dtype)
        for t in _steps(T, self.reverse):
            k = t % kept
            a = xp.matmul(w, reads[t], out=acts[k])                           # (4H, B)
            xp.tanh(a, out=a)
            sig = a[:3 * H]
            sig *= 0.5
            sig += 0.5
            i, f, o, g = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
            c = xp.multiply(f, c_prev[t], out=cs[t])
            c += xp.multiply(i, g, out=ig)
            xp.multiply(o, xp.tanh(c, out=tanh_c[k]), out=hs[t])
        self.save(reads=reads, acts=acts, c_prev=c_prev, tanh_c=tanh_c, w_ih=w_ih, w_hh=w_hh,
                  n_biases=0 if b_ih is None else 2)
        last = 0 if self.reverse else -1
        out = _output(self, xp, hs)                                           # (T, B, H)
        return out, out[last].copy(), cs[last].T.copy()

    @parallel.blas_bound
    def backward(self, dout, dh_n, dc_n):
        xp, s = self.xp, self.saved
        T, B, H = dout.shape
        a = s.acts
        i, f, o, g = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]   # (T, H, B) each
        tc = s.tanh_c
        # for all steps at once, the factors that turn dh and dc into the pre-activation gradients:
        # d(i, f, g) = dc * to_ifg, d o = dh * to_o; and dh's share in dc
        to_ifg = xp.empty((3, T, H, B), dout.dtype)
        xp.multiply(i * (1 - i), g, out=to_ifg[0])
        xp.multiply(f * (1 - f), s.c_prev, out=to_ifg[1])
        xp.multiply(1 - g * g, i, out=to_ifg[2])
        to_o = o * (1 - o) * tc
        dh_to_dc = o * (1 - tc * tc)
        dgates = xp.empty((4 * H, T, B), dout.dtype)                         # PyTorch's order i, f, g, o
        d_ifg, d_o = dgates[:3 * H].reshape(3, H, T, B), dgates[3 * H:]
        dout = _swapped(xp, dout)                                            # (T, H, B)
        dh, dc = _swapped(xp, dh_n), _swapped(xp, dc_n)                      # (H, B), updated in place
        tmp, w_hh_t = xp.empty((H, B), dout.dtype), xp.ascontiguousarray(s.w_hh.T)
        for t in _steps(T, not self.reverse):
            dh += dout[t]
            dc += xp.multiply(dh, dh_to_dc[t], out=tmp)
            xp.multiply(dc, to_ifg[:, t], out=d_ifg[:, :, t])
            xp.multiply(dh, to_o[t], out=d_o[:, t])
            dc *= f[t]
            xp.matmul(w_hh_t, dgates[:, t], out=dh)                        # (H, 4H) @ (4H, B)
        dx, dw_ih, dw_hh, *db = _stacked_grads(self, dgates, s.reads, s.w_ih, s.n_biases)
        return (dx, dh.T.copy(), dc.T.copy(), dw_ih, dw_hh, *db)


class GRU(Op):
    """GRU layer (gates r, z, n): n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h_t = (1 - z) * n + z * h_{t-1}.
    Attribute: reverse. Inputs x (T, B, I), h0 (B, H), w_ih (3H, I), w_hh (3H, H), optional b_ih, b_hh (3H,).
    Outputs: every step's h (T, B, H) and the last h (B, H)."""

    @parallel.blas_bound
    def forward(self, x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
        xp = self.xp
        T, B, H = x.shape[0], x.shape[1], h0.shape[-1]
        half = _halves(xp, 3, 2, w_hh.dtype)                                 # r, z via tanh(z / 2)
        gx = _project(xp, x, _gates(w_ih, half), None if b_ih is None else _gates(b_ih, half))  # (3H, T, B)
        w_hh_s = _gates(w_hh, half)                                          # (3H, H)
        b_hh = None if b_hh is None else _gates(b_hh, half)[:, None]
        # every step's W_hh h + b_hh (r, z halved) and activated r, z, n for the backward (else one buffer each)
        kept = T if self.needs_grad else 1
        gh, acts = xp.empty((kept, 3 * H, B), x.dtype), xp.empty((kept, 3 * H, B), x.dtype)
        h_prev, hs = _states(xp, h0, T, self.reverse)
        for t in _steps(T, self.reverse):
            k = t % kept
            hw = xp.matmul(w_hh_s, h_prev[t], out=gh[k])                     # (3H, B)
            if b_hh is not None:
                hw += b_hh
            r_z = xp.add(gx[:2 * H, t], hw[:2 * H], out=acts[k, :2 * H])
            xp.tanh(r_z, out=r_z)
            r_z *= 0.5                                                       # sigmoid = 0.5 + 0.5 * tanh(z / 2)
            r_z += 0.5
            r, z = r_z[:H], r_z[H:]
            n_t = xp.multiply(r, hw[2 * H:], out=acts[k, 2 * H:])
            n_t += gx[2 * H:, t]
            xp.tanh(n_t, out=n_t)
            h_new = xp.subtract(h_prev[t], n_t, out=hs[t])                  # h = n + z * (h - n)
            h_new *= z
            h_new += n_t
        self.save(x=x, h_prev=h_prev, acts=acts, hn=gh[:, 2 * H:], w_ih=w_ih, w_hh=w_hh,
                  n_biases=0 if b_ih is None else 2)
        out = _output(self, xp, hs)                                          # (T, B, H)
        return out, out[0 if self.reverse else -1].copy()

    @parallel.blas_bound
    def backward(self, dout, dh_n):
        xp, s = self.xp, self.saved
        T, B, H = dout.shape
        a = s.acts
        r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]                     # (T, H, B) each
        # the factors that turn dh into each pre-activation gradient, for all steps at once
        to_n = (1 - z) * (1 - n * n)                                        # dh -> d n_pre
        to_r = s.hn * r * (1 - r)                                            # d n_pre -> d r_pre
        to_z = (s.h_prev - n) * z * (1 - z)                                  # dh -> d z_pre
        # pre-activation gradients (3H, T, B), gates r, z, n: the hidden side's (n's is W_hn h + b_hn's) and the
        # input side's, whose r and z are the same (copied after the loop)
        dgh, dgx = xp.empty((3 * H, T, B), dout.dtype), xp.empty((3 * H, T, B), dout.dtype)
        dout = _swapped(xp, dout)                                            # (T, H, B)
        dh, tmp = _swapped(xp, dh_n), xp.empty((H, B), dout.dtype)           # dh updated in place
        w_hh_t = xp.ascontiguousarray(s.w_hh.T)
        for t in _steps(T, not self.reverse):
            dh += dout[t]
            dn = xp.multiply(dh, to_n[t], out=dgx[2 * H:, t])
            xp.multiply(dn, to_r[t], out=dgh[:H, t])
            xp.multiply(dh, to_z[t], out=dgh[H:2 * H, t])
            xp.multiply(dn, r[t], out=dgh[2 * H:, t])
            dh *= z[t]
            dh += xp.matmul(w_hh_t, dgh[:, t], out=tmp)                    # (H, 3H) @ (3H, B)
        dgx[:2 * H] = dgh[:2 * H]
        dx, dw_ih, dw_hh, *db = _weight_grads(self, dgx, dgh, s.x, s.h_prev, s.w_ih, s.n_biases)
        return (dx, dh.T.copy(), dw_ih, dw_hh, *db)


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
