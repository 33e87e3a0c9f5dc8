"""Import rules for ONNX's recurrent layers (RNN, LSTM, GRU), composed from Tensor ops: the input projection of
all time steps is one matmul, the loop runs only over the recurrent part. Export rules for the engine's RNN, LSTM
and GRU Ops below."""
import numpy as np

import autocompyute.functional as F
from autocompyute.ops import rnn as rnn_ops

from ..errors import OnnxImportError
from ._import_util import as_str, const, ints, rule, scalar_like
from .registry import import_rule

_ACTIVATIONS = {"Sigmoid": F.sigmoid, "Tanh": F.tanh, "Relu": F.relu}


def _activations(names, defaults, n_dir):
    names = names or defaults * n_dir
    try:
        return [_ACTIVATIONS[n] for n in names]
    except KeyError as e:
        raise ValueError(f"RNN activation {e.args[0]!r} is not supported") from None


_DIRECTIONS = {"forward": [False], "reverse": [True], "bidirectional": [False, True]}


def _reverses(direction):
    """Whether each direction of a recurrent node runs backwards in time."""
    if direction not in _DIRECTIONS:
        raise OnnxImportError(f"direction {direction!r} is none of {', '.join(_DIRECTIONS)}")
    return _DIRECTIONS[direction]


def _prepare(x, sequence_lens, clip, layout, what):
    if layout not in (0, 1):
        raise OnnxImportError(f"{what}: layout {layout} is neither 0 nor 1")
    if clip is not None:
        raise ValueError(f"{what}: clip is not supported")
    seq = F.permute(x, (1, 0, 2)) if layout else x     # (T, B, I)
    if sequence_lens is not None and any(n != seq.shape[0] for n in ints(sequence_lens)):
        raise ValueError(f"{what}: sequence_lens shorter than the sequence are not supported")
    return seq


def _initial(state, seq, layout, n_dir, hidden):
    """The initial state of each direction (B, H); zeros when the node leaves it out."""
    if state is None:
        return [const(np.zeros((seq.shape[1], hidden), seq.dtype), seq)] * n_dir
    return [state[:, d] if layout else state[d] for d in range(n_dir)]   # from (B, D, H) or (D, B, H)


# ---- the fused path: the engine's recurrent Ops (one per direction, hand-written backward) ----
# Block order of the engine's gates in ONNX's: LSTM i, f, g, o from ONNX i, o, f, c; GRU r, z, n from z, r, h.
_ENGINE_GATES = {"LSTM": [0, 2, 3, 1], "GRU": [1, 0, 2]}


def _engine_rows(kind, hidden):
    """Row indices that take a weight's (G*H, ...) ONNX gate blocks to the engine's order."""
    return np.concatenate([np.arange(k * hidden, (k + 1) * hidden) for k in _ENGINE_GATES[kind]])


def _fused(kind, layer, seq, w, r, b, direction, layout, states):
    """Run `layer` (rnn_ops.lstm_layer or gru_layer) per direction on seq (T, B, I); same outputs as `_run`."""
    reverses = _reverses(direction)
    gh = r.shape[1]
    rows = _engine_rows(kind, gh // len(_ENGINE_GATES[kind]))
    ys, finals = [], []
    for d, reverse in enumerate(reverses):
        # one gather each picks the direction and reorders the gates: (G*H, I), (G*H, H), (G*H,) twice
        biases = () if b is None else (b[d, rows], b[d, gh + rows])
        out, *last = layer(seq, *(s[d] for s in states), w[d, rows], r[d, rows], *biases, reverse=reverse)
        ys.append(out)                                              # (T, B, H)
        finals.append(last)
    return _outputs(ys, finals, layout)


def _outputs(ys, finals, layout):
    """ONNX's outputs from each direction's Y (T, B, H) and final states (B, H): Y (T, D, B, H) and the final
    states (D, B, H), or (B, T, D, H) and (B, D, H) with layout 1."""
    if len(ys) == 1:  # views, no copies
        y, final = ys[0].unsqueeze(1), [f.unsqueeze(0) for f in finals[0]]
    else:
        y = F.stack(ys, 1)                                          # (T, D, B, H)
        final = [F.stack([f[k] for f in finals], 0) for k in range(len(finals[0]))]
    if layout:
        y = F.permute(y, (2, 0, 1, 3))
        final = [F.permute(f, (1, 0, 2)) for f in final]
    return (y, *final)


def _run(seq, direction, layout, step, states):
    """Run `step(d, t, *state) -> state` over time for each direction; state[0] is h. Returns Y (T, D, B, H)
    (or (B, T, D, H) with layout 1) and the final states (D, B, H) (or (B, D, H))."""
    reverses = _reverses(direction)
    ys, finals = [], []
    for d, reverse in enumerate(reverses):
        state = tuple(s[d] for s in states)
        outs = []
        for t in (range(seq.shape[0] - 1, -1, -1) if reverse else range(seq.shape[0])):
            state = step(d, t, *state)
            outs.append(state[0])
        ys.append(F.stack(outs[::-1] if reverse else outs, 0))     # (T, B, H)
        finals.append(state)
    return _outputs(ys, finals, layout)


@import_rule("LSTM", since=7)
def lstm(x, w, r, b=None, sequence_lens=None, initial_h=None, initial_c=None, p=None, *, activation_alpha=None,
         activation_beta=None, activations=None, clip=None, direction="forward", hidden_size, input_forget=0,
         layout=0):
    """Gates in ONNX order i, o, f, c: c' = f*c + i*g(c~), h' = o*h(c'); with peepholes p (D, 3H) in the order
    i, o, f, the input and forget gates also see c, the output gate c'."""
    if input_forget:
        raise ValueError("LSTM: input_forget is not supported")
    seq = _prepare(x, sequence_lens, clip, layout, "LSTM")
    n_dir, hs = w.shape[0], hidden_size
    acts = _activations(activations, ["Sigmoid", "Tanh", "Tanh"], n_dir)
    h0, c0 = _initial(initial_h, seq, layout, n_dir, hs), _initial(initial_c, seq, layout, n_dir, hs)
    if p is None and (not activations or activations == ["Sigmoid", "Tanh", "Tanh"] * n_dir):
        return _fused("LSTM", rnn_ops.lstm_layer, seq, w, r, b, direction, layout, [h0, c0])
    xw = [F.matmul(seq, w[d].T) + (b[d, :4 * hs] + b[d, 4 * hs:] if b is not None else 0) for d in range(n_dir)]
    rt = [r[d].T for d in range(n_dir)]
    peep = [F.split(p[d], hs, 0) for d in range(n_dir)] if p is not None else None   # (H,) each: i, o, f

    def step(d, t, h, c):
        f_act, g_act, h_act = acts[3 * d:3 * d + 3]
        i, o, f, g = F.split(xw[d][t] + F.matmul(h, rt[d]), hs, 1)    # (B, H) each
        if peep is not None:                                          # the input and forget gates see c
            p_i, p_o, p_f = peep[d]
            i, f = i + p_i * c, f + p_f * c
        c = f_act(f) * c + f_act(i) * g_act(g)
        if peep is not None:                                          # the output gate sees the new c
            o = o + p_o * c
        return f_act(o) * h_act(c), c

    return _run(seq, direction, layout, step, [h0, c0])


@import_rule("GRU", since=7)
def gru(x, w, r, b=None, sequence_lens=None, initial_h=None, *, activation_alpha=None, activation_beta=None,
        activations=None, clip=None, direction="forward", hidden_size, layout=0, linear_before_reset=0):
    """Gates in ONNX order z, r, h: h' = (1 - z) * h~ + z * h."""
    seq = _prepare(x, sequence_lens, clip, layout, "GRU")
    n_dir, hs = w.shape[0], hidden_size
    acts = _activations(activations, ["Sigmoid", "Tanh"], n_dir)
    h0 = _initial(initial_h, seq, layout, n_dir, hs)
    if linear_before_reset and (not activations or activations == ["Sigmoid", "Tanh"] * n_dir):
        return _fused("GRU", rnn_ops.gru_layer, seq, w, r, b, direction, layout, [h0])
    xw = [F.matmul(seq, w[d].T) + (b[d, :3 * hs] if b is not None else 0) for d in range(n_dir)]
    rb = [b[d, 3 * hs:] if b is not None else None for d in range(n_dir)]
    rt = [r[d].T for d in range(n_dir)]

    def step(d, t, h):
        f_act, g_act = acts[2 * d:2 * d + 2]
        xz, xr, xh = F.split(xw[d][t], hs, 1)
        rz_w, rr_w, rh_w = F.split(rt[d], hs, 1)                       # (H, H) each
        rz_b, rr_b, rh_b = F.split(rb[d], hs, 0) if rb[d] is not None else (0, 0, 0)
        z = f_act(xz + F.matmul(h, rz_w) + rz_b)
        rg = f_act(xr + F.matmul(h, rr_w) + rr_b)
        if linear_before_reset:
            cand = g_act(xh + rg * (F.matmul(h, rh_w) + rh_b))
        else:
            cand = g_act(xh + F.matmul(rg * h, rh_w) + rh_b)
        return ((1 - z) * cand + z * h,)

    return _run(seq, direction, layout, step, [h0])


# ---- RNN: the simple recurrent layer, step by step (shorter sequences, clip, the activations below) ----
_RNN_ACTIVATIONS = {
    "tanh": lambda x, a, b: F.tanh(x), "relu": lambda x, a, b: F.relu(x), "sigmoid": lambda x, a, b: F.sigmoid(x),
    "affine": lambda x, a, b: x * a + b, "leakyrelu": lambda x, a, b: F.where(x > 0, x, x * a),
    "scaledtanh": lambda x, a, b: F.tanh(x * b) * a,
    "hardsigmoid": lambda x, a, b: F.clamp(x * a + b, 0.0, 1.0),
    "softsign": lambda x, a, b: x / (F.abs(x) + 1.0), "softplus": lambda x, a, b: F.log(F.exp(x) + 1.0),
}


@rule("RNN", 7, 14, 22)
def rnn(x, w, r, b=None, sequence_lens=None, initial_h=None, *, activation_alpha=None, activation_beta=None,
        activations=None, clip=None, direction="forward", hidden_size=None, layout=0):
    """h_t = f(x_t W^T + h_{t-1} R^T + Wb + Rb) per direction; steps past a sequence's length keep h and
    write zeros to Y. Returns (Y (T, D, B, H), Y_h (D, B, H)), batch-first with layout=1."""
    direction = as_str(direction)
    if layout:
        x = F.permute(x, (1, 0, 2))
        if initial_h is not None:
            initial_h = F.permute(initial_h, (1, 0, 2))
    steps, batch = x.shape[0], x.shape[1]
    dirs = 2 if direction == "bidirectional" else 1
    hidden = w.shape[1]
    names = [as_str(a).lower() for a in (activations or ["Tanh"] * dirs)]
    alphas = list(activation_alpha or [])
    betas = list(activation_beta or [])
    lens = np.full(batch, steps) if sequence_lens is None else np.asarray(ints(sequence_lens))
    ys, finals = [], []
    for d in range(dirs):
        act = _RNN_ACTIVATIONS[names[d]]
        alpha = alphas[d] if d < len(alphas) else (0.01 if names[d] == "leakyrelu" else 1.0)
        beta = betas[d] if d < len(betas) else 0.0
        proj = F.matmul(x, w[d].mT)                                         # (T, B, H): all steps at once
        if b is not None:
            proj = proj + (b[d][:hidden] + b[d][hidden:])
        h = initial_h[d] if initial_h is not None else const(np.zeros((batch, hidden), x.dtype), x)
        reverse = direction == "reverse" or d == 1
        outs = [None] * steps
        for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
            pre = proj[t] + F.matmul(h, r[d].mT)
            if clip is not None:
                pre = F.minimum(F.maximum(pre, scalar_like(pre, -clip)), scalar_like(pre, clip))
            h_new = act(pre, alpha, beta)
            live = lens > t
            if live.all():
                h = h_new
                outs[t] = h
            else:
                m = const(live[:, None], x)
                h = F.where(m, h_new, h)
                outs[t] = F.where(m, h_new, scalar_like(h_new, 0))
        ys.append(F.stack(outs, 0) if steps else const(np.zeros((0, batch, hidden), x.dtype), x))
        finals.append(h)
    y = F.stack(ys, 1)                                                      # (T, D, B, H)
    y_h = F.stack(finals, 0)                                                # (D, B, H)
    if layout:
        y, y_h = F.permute(y, (2, 0, 1, 3)), F.permute(y_h, (1, 0, 2))
    return y, y_h


# ---- export ----
from .registry import export_rule  # noqa: E402

# The engine keeps PyTorch's gate order; ONNX wants LSTM as (i, o, f, c) and GRU as (z, r, h).
_GATE_ORDER = {rnn_ops.RNN: [0], rnn_ops.LSTM: [0, 3, 1, 2], rnn_ops.GRU: [1, 0, 2]}


def _onnx_rows(op, hidden, copies=1):
    """Row indices (1, copies*G*H) that take PyTorch's gate blocks to ONNX's order, each copy (a bias pair
    side by side) on its own, with the leading direction axis ONNX wants."""
    order = _GATE_ORDER[type(op)]
    blocks = [np.arange(k * hidden, (k + 1) * hidden) for k in order]
    return np.concatenate([c * len(order) * hidden + np.concatenate(blocks) for c in range(copies)])[None]


@export_rule(rnn_ops.RNN, rnn_ops.LSTM, rnn_ops.GRU)
def _export_recurrent(g, op, inputs):
    """One ONNX node per layer and direction. The weights keep their names and PyTorch's layout; one Gather
    each reorders the gate blocks and adds the direction axis at run time (onnxruntime folds it once)."""
    kind = type(op)
    n_state = 2 if kind is rnn_ops.LSTM else 1
    x, states, (w_ih, w_hh), biases = inputs[0], inputs[1:1 + n_state], inputs[1 + n_state:3 + n_state], \
        inputs[3 + n_state:]
    hidden = op.out_meta[0][0][-1]
    rows = g.const(_onnx_rows(op, hidden))
    bias = ""
    if biases:
        bias = g.add_node("Gather", [g.add_node("Concat", list(biases), axis=0), g.const(_onnx_rows(op, hidden, 2))],
                          axis=0)                                           # (1, 2*G*H)
    attrs = dict(hidden_size=hidden, direction="reverse" if op.reverse else "forward")
    if kind is rnn_ops.RNN:
        attrs["activations"] = ["Tanh" if op.nonlinearity == "tanh" else "Relu"]
    if kind is rnn_ops.GRU:
        attrs["linear_before_reset"] = 1  # PyTorch's form: r * (W_hn h + b_hn)
    node_inputs = [x, g.add_node("Gather", [w_ih, rows], axis=0), g.add_node("Gather", [w_hh, rows], axis=0),
                   bias, ""]                                                # weights (1, G*H, I) and (1, G*H, H)
    # initial states of zeros are ONNX's default: left out, not built from the batch size
    node_inputs += ["" if g.is_zero_constant(t) else g.unsqueeze(s, [0])
                    for t, s in zip(op.inputs[1:1 + n_state], states)]
    while node_inputs[-1] == "":
        node_inputs.pop()
    outs = g.add_node(kind.__name__, node_inputs, n_outputs=1 + n_state, **attrs)
    y = g.squeeze(outs[0], [1])                        # (T, 1, B, H) -> (T, B, H)
    return [y] + [g.squeeze(o, [0]) for o in outs[1:]]  # (1, B, H) -> (B, H)
