"""A GPT-style decoder: token + position embeddings, pre-LayerNorm blocks of causal self-attention (through
F.scaled_dot_product_attention) and a GELU MLP, a final LayerNorm and a language-model head.
The default is the benchmark's: vocabulary 256 (bytes), d 128, 4 heads, 2 layers, context 64."""
import math
from dataclasses import dataclass

import numpy as np

import autocompyute as ac
from autocompyute import nn
from autocompyute.nn import functional as F


@dataclass
class Config:
    vocab_size: int = 256
    block_size: int = 64     # the longest context; example inputs use it as T
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0


class CausalSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.n_head, self.dropout = config.n_head, config.dropout
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.proj = nn.Linear(config.n_embd, config.n_embd)
        self.resid_drop = nn.Dropout(config.dropout)

    def forward(self, x):  # (B, T, C)
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)                                           # 3 x (B, T, C)
        q, k, v = (t.reshape(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, H, T, D)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.dropout if self.training else 0.0)  # (B, H, T, D)
        y = y.transpose(1, 2).reshape(B, T, C)                                          # (B, T, C)
        return self.resid_drop(self.proj(y))


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.fc = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.gelu = nn.GELU()
        self.proj = nn.Linear(4 * config.n_embd, config.n_embd)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x):  # (B, T, C) -> (B, T, 4C) -> (B, T, C)
        return self.drop(self.proj(self.gelu(self.fc(x))))


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config)

    def forward(self, x):  # (B, T, C)
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        for name, p in self.named_parameters():
            if name.endswith("weight") and p.ndim == 2:
                # residual projections scaled down with depth, as GPT-2 does
                std = 0.02 / math.sqrt(2 * config.n_layer) if name.endswith("proj.weight") else 0.02
                nn.init.normal_(p, 0.0, std)
            elif name.endswith("bias") and "ln" not in name:
                nn.init.zeros_(p)

    def forward(self, idx):  # (B, T) token ids -> (B, T, vocab_size) logits
        B, T = idx.shape
        if T > self.config.block_size:
            raise ValueError(f"GPT: sequence of {T} is longer than block_size={self.config.block_size}")
        pos = ac.arange(T, device=idx.device)                     # (T,)
        x = self.drop(self.wte(idx) + self.wpe(pos))              # (B, T, C)
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))                         # (B, T, vocab_size)


def build(config=None):
    return GPT(config or Config())


def example_inputs(config=None, batch=16, seed=0):
    c = config or Config()
    idx = np.random.default_rng(seed).integers(0, c.vocab_size, (batch, c.block_size)).astype(np.int64)
    return (ac.tensor(idx),)
