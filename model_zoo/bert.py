"""A BERT-style encoder: token + position embeddings with LayerNorm, post-LayerNorm blocks of bidirectional
self-attention (nn.MultiheadAttention) and a GELU feed-forward, and a masked-language-model head
(Linear -> GELU -> LayerNorm -> Linear to the vocabulary). An optional key padding mask (B, T), True where a
position is padding, keeps attention off those positions."""
from dataclasses import dataclass

import numpy as np

import autocompyute as ac
from autocompyute import nn


@dataclass
class Config:
    vocab_size: int = 256
    max_len: int = 64
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 128
    ffn: int = 512
    dropout: float = 0.0


class EncoderLayer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.attn = nn.MultiheadAttention(config.n_embd, config.n_head, dropout=config.dropout, batch_first=True)
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.ffn = nn.Sequential(nn.Linear(config.n_embd, config.ffn), nn.GELU(), nn.Linear(config.ffn, config.n_embd))
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x, padding_mask=None):  # (B, T, C)
        a, _ = self.attn(x, x, x, key_padding_mask=padding_mask, need_weights=False)   # (B, T, C)
        x = self.ln_1(x + self.drop(a))
        return self.ln_2(x + self.drop(self.ffn(x)))


class BERT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.tok = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos = nn.Embedding(config.max_len, config.n_embd)
        self.ln = nn.LayerNorm(config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.layers = nn.ModuleList([EncoderLayer(config) for _ in range(config.n_layer)])
        self.mlm = nn.Sequential(nn.Linear(config.n_embd, config.n_embd), nn.GELU(), nn.LayerNorm(config.n_embd),
                                 nn.Linear(config.n_embd, config.vocab_size))
        for name, p in self.named_parameters():
            if p.ndim == 2 and ("tok" in name or "pos" in name):
                nn.init.normal_(p, 0.0, 0.02)

    def forward(self, idx, padding_mask=None):  # (B, T) token ids -> (B, T, vocab_size) logits
        B, T = idx.shape
        if T > self.config.max_len:
            raise ValueError(f"BERT: sequence of {T} is longer than max_len={self.config.max_len}")
        pos = ac.arange(T, device=idx.device)                            # (T,)
        x = self.drop(self.ln(self.tok(idx) + self.pos(pos)))           # (B, T, C)
        for layer in self.layers:
            x = layer(x, padding_mask)
        return self.mlm(x)                                               # (B, T, vocab_size)


def build(config=None):
    return BERT(config or Config())


def example_inputs(config=None, batch=8, seed=0):
    c = config or Config()
    idx = np.random.default_rng(seed).integers(0, c.vocab_size, (batch, c.max_len)).astype(np.int64)
    return (ac.tensor(idx),)
