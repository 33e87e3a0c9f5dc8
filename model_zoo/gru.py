"""A GRU sequence model: model_zoo/lstm.py's two modes (a sequence classifier on features, the default and the
benchmark's; a next-character model with `CHARS`) with a GRU in place of the LSTM."""
from autocompyute import nn

from .lstm import CHARS, Config, SequenceModel, example_inputs  # noqa: F401  (this model's config and inputs)


def build(config=None):
    return SequenceModel(config or Config(), nn.GRU)
