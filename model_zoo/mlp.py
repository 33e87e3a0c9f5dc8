"""A multi-layer perceptron: Linear -> ReLU (-> Dropout) blocks, then a Linear classifier.

The default is the benchmark's 784-512-512-10; on the 8x8 digits use `Config(in_features=64)`.
Any input is flattened after the batch dimension, so (B, 1, 8, 8) images work as well as (B, 64).
"""
from dataclasses import dataclass

import numpy as np

import autocompyute as ac
from autocompyute import nn


@dataclass
class Config:
    in_features: int = 784
    hidden: tuple = (512, 512)
    num_classes: int = 10
    dropout: float = 0.0


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        layers, width = [nn.Flatten()], config.in_features
        for h in config.hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            if config.dropout:
                layers.append(nn.Dropout(config.dropout))
            width = h
        layers.append(nn.Linear(width, config.num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x):  # (B, in_features) or (B, ...) -> (B, num_classes)
        return self.net(x)


def build(config=None):
    return MLP(config or Config())


def example_inputs(config=None, batch=128, seed=0):
    config = config or Config()
    x = np.random.default_rng(seed).standard_normal((batch, config.in_features)).astype(np.float32)
    return (ac.tensor(x),)
