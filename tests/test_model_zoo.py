"""Every model of the zoo: builds from its Config, runs on its example inputs at two batch sizes with the right
output shape, backward reaches every parameter, and one optimizer step lowers the loss on a fixed batch."""
import dataclasses
import pathlib

import numpy as np
import pytest

import autocompyute as ac
from autocompyute import nn, optim
from autocompyute.nn import functional as F
from model_zoo import MODELS, bert, gpt, gru, lenet, lstm, mlp, mobilenetv2, resnet

# name -> (zoo module, a config, expected output shape for batch B)
CASES = {
    "mlp": (mlp, mlp.Config(), lambda c, B: (B, 10)),
    "mlp_digits": (mlp, mlp.Config(in_features=64, hidden=(32,)), lambda c, B: (B, 10)),
    "lenet": (lenet, lenet.Config(), lambda c, B: (B, 10)),
    "lenet_digits": (lenet, lenet.DIGITS, lambda c, B: (B, 10)),
    "resnet": (resnet, resnet.Config(width=8, blocks=(1, 1, 1), image_size=16), lambda c, B: (B, 10)),
    "resnet_digits": (resnet, resnet.DIGITS, lambda c, B: (B, 10)),
    "mobilenetv2": (mobilenetv2, mobilenetv2.Config(image_size=16), lambda c, B: (B, 10)),
    "mobilenetv2_digits": (mobilenetv2, mobilenetv2.DIGITS, lambda c, B: (B, 10)),
    "lstm": (lstm, lstm.Config(seq_len=12), lambda c, B: (B, 10)),
    "lstm_chars": (lstm, dataclasses.replace(lstm.CHARS, seq_len=12), lambda c, B: (B, 12, 256)),
    "gru": (gru, gru.Config(seq_len=12, num_layers=2), lambda c, B: (B, 10)),
    "gru_chars": (gru, dataclasses.replace(gru.CHARS, seq_len=12), lambda c, B: (B, 12, 256)),
    "gpt": (gpt, gpt.Config(block_size=16), lambda c, B: (B, 16, 256)),
    "bert": (bert, bert.Config(max_len=16), lambda c, B: (B, 16, 256)),
}


def _targets(out, seed=1):
    rng = np.random.default_rng(seed)
    return ac.tensor(rng.integers(0, out.shape[-1], out.shape[:-1]).astype(np.int64))


def _loss(out, target):
    return F.cross_entropy(out.reshape(-1, out.shape[-1]), target.reshape(-1))


def test_registry_lists_every_model_file():
    here = pathlib.Path(__file__).resolve().parent.parent / "model_zoo"
    files = {p.stem for p in here.glob("*.py") if not p.stem.startswith("_")} - {"data", "demo", "train"}
    assert set(MODELS) == files
    for name, mod in MODELS.items():
        assert dataclasses.is_dataclass(mod.Config), name
        assert isinstance(mod.build(), nn.Module), name


@pytest.mark.parametrize("name", list(MODELS))
def test_default_config_forward(name):
    """The default configs (the benchmark's sizes) run at batch 2."""
    mod = MODELS[name]
    model = mod.build(mod.Config())
    (x,) = mod.example_inputs(mod.Config(), batch=2)
    with ac.no_grad():
        out = model(x)
    assert out.shape[0] == 2 and np.isfinite(out.numpy()).all()


@pytest.mark.parametrize("case", list(CASES))
def test_forward_shapes_at_two_batch_sizes(case):
    mod, config, shape = CASES[case]
    ac.manual_seed(0)
    model = mod.build(config)
    for batch in (1, 3):
        (x,) = mod.example_inputs(config, batch=batch)
        out = model(x)
        assert out.shape == shape(config, batch), (case, batch)
        assert out.dtype == np.float32
        assert np.isfinite(out.numpy()).all()


@pytest.mark.parametrize("case", list(CASES))
def test_backward_reaches_every_parameter(case):
    mod, config, _ = CASES[case]
    ac.manual_seed(0)
    model = mod.build(config)
    (x,) = mod.example_inputs(config, batch=3)
    out = model(x)
    _loss(out, _targets(out)).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{case}: no gradient for {name}"
        assert p.grad.shape == p.shape, name
        assert np.isfinite(p.grad).all(), name
        assert np.abs(p.grad).max() > 0, f"{case}: zero gradient for {name}"


@pytest.mark.parametrize("case", list(CASES))
def test_one_adam_step_lowers_the_loss(case):
    mod, config, _ = CASES[case]
    ac.manual_seed(0)
    model = mod.build(config)
    (x,) = mod.example_inputs(config, batch=4)
    target = _targets(model(x))
    opt = optim.Adam(model.parameters(), lr=1e-3)
    before = _loss(model(x), target)
    opt.zero_grad()
    before.backward()
    opt.step()
    after = _loss(model(x), target)
    assert after.item() < before.item(), (case, before.item(), after.item())


def test_bert_padding_mask_keeps_attention_off_padding():
    config = bert.Config(max_len=8, n_layer=1)
    ac.manual_seed(0)
    model = bert.build(config).eval()
    (x,) = bert.example_inputs(config, batch=2)
    pad = np.zeros((2, 8), dtype=bool)
    pad[:, 6:] = True
    out = model(x, ac.tensor(pad)).numpy()
    changed = x.numpy().copy()
    changed[:, 6:] = (changed[:, 6:] + 1) % 256                    # other tokens at the padded positions
    out2 = model(ac.tensor(changed), ac.tensor(pad)).numpy()
    np.testing.assert_allclose(out[:, :6], out2[:, :6], rtol=1e-5, atol=1e-5)
    assert not np.allclose(out[:, 6:], out2[:, 6:])


def test_gpt_is_causal():
    """Changing a later token leaves earlier positions' logits unchanged."""
    config = gpt.Config(block_size=8, n_layer=1)
    ac.manual_seed(0)
    model = gpt.build(config)
    (x,) = gpt.example_inputs(config, batch=2)
    changed = x.numpy().copy()
    changed[:, 5] = (changed[:, 5] + 7) % 256
    a, b = model(x).numpy(), model(ac.tensor(changed)).numpy()
    np.testing.assert_allclose(a[:, :5], b[:, :5], rtol=1e-5, atol=1e-5)
    assert not np.allclose(a[:, 5:], b[:, 5:])


def test_gpt_refuses_a_sequence_longer_than_its_context():
    model = gpt.build(gpt.Config(block_size=4, n_layer=1))
    with pytest.raises(ValueError, match="block_size"):
        model(ac.tensor(np.zeros((1, 5), dtype=np.int64)))


def test_resnet_blocks_and_widths():
    model = resnet.build(resnet.Config(width=4, blocks=(2, 1, 1)))
    blocks = [m for m in model.modules() if isinstance(m, resnet.BasicBlock)]
    assert len(blocks) == 4
    assert [b.conv2.out_channels for b in blocks] == [4, 4, 8, 16]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 1 + 2 * 4 + 2   # stem, blocks, shortcuts


def test_mobilenetv2_has_depthwise_convolutions_and_residuals():
    model = mobilenetv2.build(mobilenetv2.DIGITS)
    depthwise = [m for m in model.modules()
                 if isinstance(m, nn.Conv2d) and m.groups == m.in_channels == m.out_channels and m.groups > 1]
    assert depthwise
    blocks = [m for m in model.modules() if isinstance(m, mobilenetv2.InvertedResidual)]
    assert any(b.use_residual for b in blocks) and not all(b.use_residual for b in blocks)
    assert any(isinstance(m, nn.ReLU6) for m in model.modules())
