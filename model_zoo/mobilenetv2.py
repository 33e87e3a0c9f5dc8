"""A small MobileNetV2: a conv3x3 stem, inverted residual blocks (1x1 expand -> depthwise 3x3 -> 1x1 linear
projection, with a residual connection when the shapes allow), a 1x1 head conv, average pooling and a classifier.
Convolutions are followed by BatchNorm and ReLU6, except the projection (a linear bottleneck)."""
from dataclasses import dataclass

import numpy as np

import autocompyute as ac
from autocompyute import nn


@dataclass
class Config:
    in_channels: int = 3
    image_size: int = 32
    stem_channels: int = 16
    stem_stride: int = 1
    # (expansion t, output channels c, repeats n, first stride s) per stage
    settings: tuple = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 2, 2), (6, 64, 1, 2))
    last_channels: int = 256
    num_classes: int = 10
    dropout: float = 0.0


DIGITS = Config(in_channels=1, image_size=8, settings=((1, 16, 1, 1), (4, 24, 2, 2), (4, 32, 1, 2)),
                last_channels=128)


def conv_bn(c_in, c_out, kernel, stride=1, groups=1, act=True):
    layers = [nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=False),
              nn.BatchNorm2d(c_out)]
    return nn.Sequential(*layers, nn.ReLU6()) if act else nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, c_in, c_out, stride, expansion):
        super().__init__()
        hidden = c_in * expansion
        self.use_residual = stride == 1 and c_in == c_out
        layers = [conv_bn(c_in, hidden, 1)] if expansion != 1 else []      # (B, hidden, H, W)
        layers += [conv_bn(hidden, hidden, 3, stride, groups=hidden),      # depthwise: (B, hidden, H/s, W/s)
                   conv_bn(hidden, c_out, 1, act=False)]                   # (B, c_out, H/s, W/s)
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.block(x) if self.use_residual else self.block(x)


class MobileNetV2(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        c_in = config.stem_channels
        layers = [conv_bn(config.in_channels, c_in, 3, stride=config.stem_stride)]
        for t, c, n, s in config.settings:
            for i in range(n):
                layers.append(InvertedResidual(c_in, c, s if i == 0 else 1, t))
                c_in = c
        layers.append(conv_bn(c_in, config.last_channels, 1))                # (B, last, S', S')
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)                                  # (B, last, 1, 1)
        self.classifier = nn.Sequential(nn.Dropout(config.dropout) if config.dropout else nn.Identity(),
                                        nn.Linear(config.last_channels, config.num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")

    def forward(self, x):  # (B, C, S, S) -> (B, num_classes)
        return self.classifier(self.pool(self.features(x)).flatten(1))


def build(config=None):
    return MobileNetV2(config or Config())


def example_inputs(config=None, batch=8, seed=0):
    c = config or Config()
    x = np.random.default_rng(seed).standard_normal((batch, c.in_channels, c.image_size, c.image_size))
    return (ac.tensor(x.astype(np.float32)),)
