"""Make the small ONNX models under tests/fixtures/onnx/ with torch.onnx.export, so the import tests need no torch.

    .venv/bin/pip install torch==2.13.0 onnxscript     # for this script only; never a package dependency
    .venv/bin/python scripts/make_onnx_fixtures.py

Each model is exported with the TorchScript exporter (dynamo=False) and the dynamo exporter (dynamo=True) at a
few opsets, in eval mode and (for BatchNorm/Dropout) training mode. Beside each .onnx file goes nothing else:
the tests make their inputs from the graph's input shapes. A model an exporter cannot write is reported and
skipped.
"""
import pathlib
import sys
import warnings

import torch
from torch import nn

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "onnx"


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 4))

    def forward(self, x):  # (B, 8)
        return self.net(x)


class SmallCNN(nn.Module):
    """Conv + BatchNorm + ReLU6, a depthwise conv, pooling, a linear head."""
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU6())
        self.dw = nn.Sequential(nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8), nn.BatchNorm2d(8), nn.ReLU6(),
                                nn.Conv2d(8, 12, 1))
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Linear(12, 5)

    def forward(self, x):  # (B, 3, 16, 16)
        x = self.pool(self.dw(self.stem(x)))
        return self.head(x.mean(dim=(2, 3)))


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(6, 6, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(6)
        self.conv2 = nn.Conv2d(6, 6, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(6)
        self.drop = nn.Dropout(0.25)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, 3)

    def forward(self, x):  # (B, 6, 8, 8)
        y = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.bn2(self.conv2(y)) + x)
        return self.fc(self.drop(torch.flatten(self.pool(y), 1)))


class UNetBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.down = nn.Conv2d(4, 8, 3, stride=2, padding=1)
        self.gn = nn.GroupNorm(2, 8)
        self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.inorm = nn.InstanceNorm2d(4, affine=True)
        self.out = nn.Conv2d(8, 2, 1)

    def forward(self, x):  # (B, 4, 8, 8)
        d = torch.relu(self.gn(self.down(x)))
        u = self.inorm(self.up(d))
        r = nn.functional.interpolate(d[:, :4], scale_factor=2, mode="nearest")
        b = nn.functional.interpolate(d[:, 4:], scale_factor=2, mode="bilinear", align_corners=False)
        return self.out(torch.cat([u + r, x + b], 1))


class LSTMModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(5, 7, batch_first=True)
        self.fc = nn.Linear(7, 3)

    def forward(self, x):  # (B, T, 5)
        y, _ = self.rnn(x)
        return self.fc(y[:, -1])


class GRUModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(5, 6, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(12, 3)

    def forward(self, x):  # (B, T, 5)
        y, _ = self.rnn(x)
        return self.fc(y[:, -1])


class Block(nn.Module):
    def __init__(self, d, heads, causal):
        super().__init__()
        self.heads, self.causal = heads, causal
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x):  # (B, T, C)
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / (c // self.heads) ** 0.5
        if self.causal:
            mask = torch.tril(torch.ones(t, t, dtype=torch.bool))
            att = att.masked_fill(~mask, float("-inf"))
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(b, t, c)
        x = x + self.proj(y)
        return x + self.mlp(self.ln2(x))


class TinyGPT(nn.Module):
    def __init__(self, vocab=20, d=16, block=12):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(block, d)
        self.block = Block(d, 2, causal=True)
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)

    def forward(self, idx):  # (B, T) int64
        t = idx.shape[1]
        pos = torch.arange(t, device=idx.device)
        return self.head(self.ln(self.block(self.tok(idx) + self.pos(pos))))


class TinyBERT(nn.Module):
    def __init__(self, vocab=20, d=16):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.block = Block(d, 4, causal=False)
        self.cls = nn.Linear(d, 2)

    def forward(self, idx):  # (B, T) int64
        return self.cls(self.block(self.tok(idx))[:, 0])


class CondModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 4)

    def forward(self, x):  # (B, 4)
        return torch.cond(x.sum() > 0, lambda x: self.a(x).relu(), lambda x: self.b(x).tanh(), (x,))


class ScriptLoop(nn.Module):
    """A scripted loop over a data-dependent count (Loop in the TorchScript exporter)."""
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(4, 4) * 0.3)

    def forward(self, x, n):  # (B, 4), () int64
        for _ in range(int(n)):
            x = torch.tanh(x @ self.w)
        return x


def export(model, args, name, *, dynamo, opset, training=False, dynamic_batch=True, input_names=None):
    path = OUT / f"{name}.onnx"
    mode = torch.onnx.TrainingMode.TRAINING if training else torch.onnx.TrainingMode.EVAL
    model.train(training)
    kwargs = dict(opset_version=opset, dynamo=dynamo, training=mode)
    if input_names:
        kwargs["input_names"] = input_names
    if dynamo:
        kwargs["external_data"] = False
    else:
        kwargs["do_constant_folding"] = not training
        if dynamic_batch:
            names = input_names or ["input"]
            kwargs["input_names"] = names
            kwargs["dynamic_axes"] = {names[0]: {0: "batch"}}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, args, str(path), **kwargs)
    except Exception as e:  # report, keep going
        print(f"SKIP {name}: {type(e).__name__}: {str(e).splitlines()[0][:200]}")
        return
    size = path.stat().st_size
    print(f"{name}: {size / 1024:.1f} KB")


def main():
    torch.manual_seed(0)
    OUT.mkdir(parents=True, exist_ok=True)
    x8, img, res, unet = torch.randn(2, 8), torch.randn(2, 3, 16, 16), torch.randn(2, 6, 8, 8), torch.randn(2, 4, 8, 8)
    seq, tokens = torch.randn(2, 6, 5), torch.randint(0, 20, (2, 10))
    cnn, resblock = SmallCNN(), Residual()
    for m in (cnn, resblock):  # non-trivial running statistics
        m.train()
        with torch.no_grad():
            for _ in range(3):
                m(torch.randn(*((4,) + tuple(img.shape[1:] if m is cnn else res.shape[1:]))))
    plans = [
        ("mlp", MLP(), (x8,)), ("cnn", cnn, (img,)), ("residual", resblock, (res,)),
        ("unet", UNetBlock(), (unet,)), ("lstm", LSTMModel(), (seq,)), ("gru", GRUModel(), (seq,)),
        ("gpt", TinyGPT(), (tokens,)), ("bert", TinyBERT(), (tokens,)),
    ]
    for name, model, args in plans:
        export(model, args, f"{name}_ts_op13", dynamo=False, opset=13)
        export(model, args, f"{name}_ts_op17", dynamo=False, opset=17)
        export(model, args, f"{name}_dynamo_op18", dynamo=True, opset=18)
    export(MLP(), (x8,), "mlp_ts_op9", dynamo=False, opset=9)
    export(TinyGPT(), (tokens,), "gpt_dynamo_op23", dynamo=True, opset=23)
    export(resblock, (res,), "residual_ts_op13_training", dynamo=False, opset=13, training=True)
    export(cnn, (img,), "cnn_ts_op17_training", dynamo=False, opset=17, training=True)
    export(CondModel().eval(), (x8[:, :4],), "cond_dynamo_op18", dynamo=True, opset=18)
    loop = torch.jit.script(ScriptLoop())
    export(loop, (x8[:, :4], torch.tensor(3)), "loop_ts_op13", dynamo=False, opset=13, dynamic_batch=False,
           input_names=["x", "n"])
    total = sum(p.stat().st_size for p in OUT.glob("*.onnx"))
    print(f"total {total / 1024:.1f} KB in {len(list(OUT.glob('*.onnx')))} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
