"""A LeNet-style CNN: two conv3x3 -> ReLU -> max-pool stages, then two Linear layers.

The default is the benchmark's on 1x28x28 (conv 1->32, pool, conv 32->64, pool, linear 128, linear 10);
`DIGITS` is the variant for the bundled 8x8 digits (8 -> 4 -> 2 pixels after the pools).
"""
from dataclasses import dataclass

import numpy as np

import autocompyute as ac
from autocompyute import nn


@dataclass
class Config:
    in_channels: int = 1
    image_size: int = 28
    channels: tuple = (32, 64)
    hidden: int = 128
    num_classes: int = 10
    dropout: float = 0.0


DIGITS = Config(image_size=8)


class LeNet(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        c1, c2 = config.channels
        self.features = nn.Sequential(
            nn.Conv2d(config.in_channels, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, c1, S/2, S/2)
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),                  # (B, c2, S/4, S/4)
        )
        side = config.image_size // 4
        self.classifier = nn.Sequential(
            nn.Flatten(),                                                                 # (B, c2 * S/4 * S/4)
            nn.Linear(c2 * side * side, config.hidden), nn.ReLU(),
            nn.Dropout(config.dropout) if config.dropout else nn.Identity(),
            nn.Linear(config.hidden, config.num_classes),                                 # (B, num_classes)
        )

    def forward(self, x):  # (B, C, S, S) -> (B, num_classes)
        return self.classifier(self.features(x))


def build(config=None):
    return LeNet(config or Config())


def example_inputs(config=None, batch=64, seed=0):
    c = config or Config()
    x = np.random.default_rng(seed).standard_normal((batch, c.in_channels, c.image_size, c.image_size))
    return (ac.tensor(x.astype(np.float32)),)
