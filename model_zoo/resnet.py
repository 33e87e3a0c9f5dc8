"""A small ResNet: a conv3x3 stem, three stages of BasicBlocks (conv3x3-BN-ReLU-conv3x3-BN plus a shortcut),
global average pooling and a Linear classifier. `width` channels in the first stage, doubled in each next one,
whose first block halves the resolution (a 1x1 conv + BN shortcut then matches the shapes)."""
from dataclasses import dataclass

import numpy as np

import autocompyute as ac
from autocompyute import nn


@dataclass
class Config:
    in_channels: int = 3
    image_size: int = 32
    width: int = 16
    blocks: tuple = (2, 2, 2)
    num_classes: int = 10


DIGITS = Config(in_channels=1, image_size=8, width=16, blocks=(1, 1, 1))


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU()
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):  # (B, c_in, H, W) -> (B, c_out, H/stride, W/stride)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        w = config.width
        self.stem = nn.Sequential(nn.Conv2d(config.in_channels, w, 3, padding=1, bias=False), nn.BatchNorm2d(w),
                                  nn.ReLU())                                  # (B, w, S, S)
        stages, c_in = [], w
        for i, n in enumerate(config.blocks):
            c_out = w * 2 ** i
            for j in range(n):
                stages.append(BasicBlock(c_in, c_out, stride=2 if (i > 0 and j == 0) else 1))
                c_in = c_out
        self.stages = nn.Sequential(*stages)                                  # (B, c_in, S/4, S/4) with 3 stages
        self.pool = nn.AdaptiveAvgPool2d(1)                                   # (B, c_in, 1, 1)
        self.fc = nn.Linear(c_in, config.num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):  # (B, C, S, S) -> (B, num_classes)
        x = self.stages(self.stem(x))
        return self.fc(self.pool(x).flatten(1))


def build(config=None):
    return ResNet(config or Config())


def example_inputs(config=None, batch=8, seed=0):
    c = config or Config()
    x = np.random.default_rng(seed).standard_normal((batch, c.in_channels, c.image_size, c.image_size))
    return (ac.tensor(x.astype(np.float32)),)
