"""RNN, LSTM and GRU layers with PyTorch's arguments, parameter names, layouts and return values.

Each layer and direction is one Op from autocompyute/ops/rnn.py over the whole sequence; this module stacks
layers, runs the reverse direction, concatenates the two directions' features, and applies dropout between
layers in training mode.
"""
import math

from .. import functional as AF
from ..errors import ShapeError
from ..ops import dropout as D
from ..ops import rnn as R
from ..tensor import Tensor
from . import init
from .module import Module, empty_parameter

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


class RNNBase(Module):
    """Shared by RNN, LSTM and GRU. Parameters, per layer l and direction (suffix "" or "_reverse"):
    weight_ih_l{l} (G*H, I or D*H), weight_hh_l{l} (G*H, H), bias_ih_l{l}, bias_hh_l{l} (G*H,), all drawn from
    U(-1/sqrt(H), 1/sqrt(H)) as PyTorch does."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None):
        super().__init__()
        if not 0 <= dropout <= 1:
            raise ValueError(f"{type(self).__name__}: dropout must be in [0, 1], got {dropout}")
        if hidden_size <= 0 or num_layers <= 0:
            raise ValueError(f"{type(self).__name__}: hidden_size and num_layers must be positive")
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional = bidirectional
        gates = _GATES[mode]
        directions = 2 if bidirectional else 1
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            for suffix in ("", "_reverse")[:directions]:
                shapes = [("weight_ih", (gates * hidden_size, layer_input)),
                          ("weight_hh", (gates * hidden_size, hidden_size))]
                if bias:
                    shapes += [("bias_ih", (gates * hidden_size,)), ("bias_hh", (gates * hidden_size,))]
                for name, shape in shapes:
                    setattr(self, f"{name}_l{layer}{suffix}", empty_parameter(shape, device, dtype))
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def flatten_parameters(self):
        """Nothing to do here (PyTorch compacts cuDNN weights); kept so code written for PyTorch runs."""

    def _layer_params(self, layer, suffix):
        names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if self.bias else [])
        return [getattr(self, f"{n}_l{layer}{suffix}") for n in names]

    def _initial(self, hx, batch, x):
        """hx (L*D, B, H) -> list of (B, H) Tensors, zeros when hx is None."""
        count = self.num_layers * (2 if self.bidirectional else 1)
        if hx is None:
            zeros = Tensor(x.xp.zeros((batch, self.hidden_size), dtype=x.dtype))
            return [zeros] * count
        if tuple(hx.shape) != (count, batch, self.hidden_size):
            raise ShapeError(f"{type(self).__name__}: expected an initial state of shape "
                             f"{(count, batch, self.hidden_size)}, got {tuple(hx.shape)}")
        return [hx[i] for i in range(count)]

    def _run(self, input, states):
        """input (T, B, I); states: a list (one per state kind) of per-layer-direction initial (B, H) tensors.
        Returns the last layer's output (T, B, D*H) and, per state kind, the final states stacked (L*D, B, H)."""
        directions = 2 if self.bidirectional else 1
        x, finals = input, [[] for _ in states]
        for layer in range(self.num_layers):
            outs = []
            for d, suffix in enumerate(("", "_reverse")[:directions]):
                k = layer * directions + d
                out, *last = self._cell(x, [s[k] for s in states], self._layer_params(layer, suffix), d == 1)
                outs.append(out)
                for kind, value in zip(finals, last):
                    kind.append(value)
            x = outs[0] if directions == 1 else AF.cat(outs, dim=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = D.dropout(x, self.dropout, True)
        return x, [AF.stack(kind, 0) for kind in finals]

    def forward(self, input, hx=None):
        name = type(self).__name__
        if input.ndim not in (2, 3):
            raise ShapeError(f"{name}: expected an input (T, B, I), (B, T, I) with batch_first, or unbatched (T, I); "
                             f"got {tuple(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise ShapeError(f"{name}: input {tuple(input.shape)} has {input.shape[-1]} features, "
                             f"expected input_size={self.input_size}")
        if input.shape[1 if input.ndim == 3 and self.batch_first else 0] == 0:
            raise ShapeError(f"{name}: input {tuple(input.shape)} has no time steps")
        batched = input.ndim == 3
        if not batched:
            input = input.unsqueeze(1)
            hx = _map(hx, lambda h: h.unsqueeze(1))
        elif self.batch_first:
            input = input.transpose(0, 1)                                   # (T, B, I)
        output, finals = self._run(input, self._states(hx, input.shape[1], input))
        if not batched:
            output, finals = output.squeeze(1), [f.squeeze(1) for f in finals]
        elif self.batch_first:
            output = output.transpose(0, 1)                                 # (B, T, D*H)
        return output, self._pack(finals)

    # the three kinds differ only here
    def _states(self, hx, batch, x):
        return [self._initial(hx, batch, x)]

    def _pack(self, finals):
        return finals[0]

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


def _map(hx, fn):
    if hx is None:
        return None
    return tuple(fn(h) for h in hx) if isinstance(hx, tuple) else fn(hx)


class RNN(RNNBase):
    """RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True, batch_first=False,
    dropout=0.0, bidirectional=False): forward(input, h_0=None) -> (output, h_n)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', not {nonlinearity!r}")
        super().__init__("RNN_" + nonlinearity.upper(), input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device, dtype)
        self.nonlinearity = nonlinearity

    def _cell(self, x, states, params, reverse):
        return R.rnn_layer(x, states[0], *params, nonlinearity=self.nonlinearity, reverse=reverse)


class LSTM(RNNBase):
    """LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False): forward(input, (h_0, c_0)=None) -> (output, (h_n, c_n)). Gate order i, f, g, o."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device, dtype)

    def _states(self, hx, batch, x):
        if hx is None:
            return [self._initial(None, batch, x), self._initial(None, batch, x)]
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise ShapeError("LSTM: the initial state must be a tuple (h_0, c_0)")
        return [self._initial(hx[0], batch, x), self._initial(hx[1], batch, x)]

    def _cell(self, x, states, params, reverse):
        return R.lstm_layer(x, states[0], states[1], *params, reverse=reverse)

    def _pack(self, finals):
        return finals[0], finals[1]


class GRU(RNNBase):
    """GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False): forward(input, h_0=None) -> (output, h_n). Gate order r, z, n."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device, dtype)

    def _cell(self, x, states, params, reverse):
        return R.gru_layer(x, states[0], *params, reverse=reverse)
