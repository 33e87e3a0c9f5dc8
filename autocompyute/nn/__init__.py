"""Layers and models: `Module`, `Parameter`, containers, layers, `functional`, `init`."""
from .module import Module, ModuleDict, ModuleList, Parameter, Sequential  # noqa: F401
from .conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d  # noqa: F401,E402
from .pooling import (  # noqa: F401,E402
    AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d,
)
from .layers import (  # noqa: F401
    BCELoss, BCEWithLogitsLoss, BatchNorm1d, BatchNorm2d, CrossEntropyLoss, Dropout, ELU, Embedding, Flatten, GELU,
    GroupNorm, Hardsigmoid, Hardswish, Hardtanh, HuberLoss, Identity, InstanceNorm2d, L1Loss, LayerNorm, LeakyReLU,
    Linear, LogSoftmax, MSELoss, NLLLoss, ReLU, ReLU6, Sigmoid, SiLU, SmoothL1Loss, Softmax, Softplus, Tanh,
)
from . import functional, init, utils  # noqa: F401,E402
from .rnn import GRU, LSTM, RNN, RNNBase  # noqa: F401,E402
from .attention import MultiheadAttention  # noqa: F401,E402
