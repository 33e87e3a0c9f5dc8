"""An LSTM sequence model, in one of two modes (model_zoo/gru.py is the same model with a GRU).

- features (vocab_size = 0, the default, the benchmark's): (B, T, input_size) -> LSTM -> the last step's hidden
  state -> Linear -> (B, num_classes), a sequence classifier;
- characters (vocab_size > 0, `CHARS`): token ids (B, T) -> Embedding(vocab, input_size) -> LSTM -> Linear at
  every step -> (B, T, vocab_size) next-character logits.
"""
from dataclasses import dataclass

import numpy as np

import autocompyute as ac
from autocompyute import nn


@dataclass
class Config:
    input_size: int = 32
    hidden_size: int = 128
    num_layers: int = 1
    num_classes: int = 10
    seq_len: int = 50
    vocab_size: int = 0      # > 0: a character model over this many token ids
    dropout: float = 0.0     # between stacked layers


CHARS = Config(input_size=64, hidden_size=128, seq_len=64, vocab_size=256)


class SequenceModel(nn.Module):
    """The model of both modes around a recurrent layer class (nn.LSTM or nn.GRU)."""

    def __init__(self, config, rnn=nn.LSTM):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.input_size) if config.vocab_size else None
        self.rnn = rnn(config.input_size, config.hidden_size, config.num_layers, batch_first=True,
                           dropout=config.dropout if config.num_layers > 1 else 0.0)
        self.head = nn.Linear(config.hidden_size, config.vocab_size or config.num_classes)

    def forward(self, x):
        if self.embed is not None:
            out, _ = self.rnn(self.embed(x))     # (B, T) -> (B, T, I) -> (B, T, H)
            return self.head(out)                # (B, T, vocab_size)
        out, _ = self.rnn(x)                     # (B, T, I) -> (B, T, H)
        return self.head(out[:, -1])             # (B, num_classes)


def build(config=None):
    return SequenceModel(config or Config(), nn.LSTM)


def example_inputs(config=None, batch=32, seed=0):
    c = config or Config()
    rng = np.random.default_rng(seed)
    if c.vocab_size:
        return (ac.tensor(rng.integers(0, c.vocab_size, (batch, c.seq_len)).astype(np.int64)),)
    return (ac.tensor(rng.standard_normal((batch, c.seq_len, c.input_size)).astype(np.float32)),)
