"""Layers against independent numpy computations: parameters (names, shapes, initialisation), forward passes,
BatchNorm's running statistics and modes, state-dict strictness, init, gradient clipping."""
import math

import numpy as np
import pytest

import autocompyute as ac
import autocompyute.nn.functional as F
from autocompyute import nn
from autocompyute.errors import StateDictError
import op_cases  # noqa: F401  (first: it imports every cases_*.py, cases_nn and cases_elementwise among them)
from cases_elementwise import _sigmoid
from cases_nn import _batch_norm_eval, _layer_norm
from nn_helpers import rand


def _np(t):
    return np.asarray(t.numpy(), dtype=np.float64)


def _set(param, values):
    param.data = np.asarray(values, dtype=param.dtype)


# ---- Linear, Embedding ----
def test_linear_parameters_init_and_forward():
    ac.manual_seed(1)
    m = nn.Linear(50, 7)
    assert [(n, p.shape) for n, p in m.named_parameters()] == [("weight", (7, 50)), ("bias", (7,))]
    bound = 1 / math.sqrt(50)
    w = _np(m.weight)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound      # kaiming_uniform(a=sqrt(5))
    assert abs(w.std() - bound / math.sqrt(3)) < 0.1 * bound
    assert np.abs(_np(m.bias)).max() <= bound
    x = rand(2, 3, 50)
    np.testing.assert_allclose(_np(m(ac.tensor(x))), x @ w.T + _np(m.bias), rtol=1e-5, atol=1e-5)
    assert nn.Linear(4, 3, bias=False).bias is None
    assert [n for n, _ in nn.Linear(4, 3, bias=False).named_parameters()] == ["weight"]


def test_linear_init_is_reproducible_with_manual_seed():
    ac.manual_seed(5)
    a = nn.Linear(6, 4)
    ac.manual_seed(5)
    b = nn.Linear(6, 4)
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())
    assert not np.array_equal(a.weight.numpy(), nn.Linear(6, 4).weight.numpy())


def test_linear_wrong_input_size_names_shapes():
    with pytest.raises(ac.ShapeError, match=r"linear.*\(2, 5\).*\(3, 4\)"):
        nn.Linear(4, 3)(ac.zeros(2, 5))


def test_embedding_forward_padding_row_and_its_gradient():
    m = nn.Embedding(10, 4, padding_idx=2)
    np.testing.assert_array_equal(m.weight.numpy()[2], 0)
    assert abs(_np(m.weight)[[0, 1, 3]].std() - 1) < 0.5                   # N(0, 1)
    idx = np.array([[1, 2, 1], [2, 9, 0]])
    out = m(ac.tensor(idx))
    np.testing.assert_array_equal(out.numpy(), m.weight.numpy()[idx])
    (out * ac.tensor(rand(2, 3, 4))).sum().backward()
    g = m.weight.grad
    np.testing.assert_array_equal(g[2], 0)                                  # padding row: no gradient
    want = np.zeros((10, 4), np.float32)
    np.add.at(want, idx.reshape(-1), rand(2, 3, 4).reshape(-1, 4))
    want[2] = 0
    np.testing.assert_allclose(g, want, rtol=1e-6)
    with pytest.raises(IndexError):
        m(ac.tensor([10]))


def test_embedding_from_pretrained_freezes():
    m = nn.Embedding.from_pretrained(ac.tensor(rand(3, 2)))
    assert not m.weight.requires_grad
    assert nn.Embedding.from_pretrained(rand(3, 2), freeze=False).weight.requires_grad


# ---- normalisation ----
def test_layer_norm_module():
    m = nn.LayerNorm((3, 4), eps=1e-3)
    assert [(n, p.shape) for n, p in m.named_parameters()] == [("weight", (3, 4)), ("bias", (3, 4))]
    _set(m.weight, rand(3, 4, seed=1))
    _set(m.bias, rand(3, 4, seed=2))
    x = rand(2, 3, 4)
    want = _layer_norm(x.astype(np.float64), _np(m.weight), _np(m.bias), 2, 1e-3)
    np.testing.assert_allclose(_np(m(ac.tensor(x))), want, rtol=1e-4, atol=1e-5)
    assert list(nn.LayerNorm(4, elementwise_affine=False).parameters()) == []


@pytest.mark.parametrize("cls,shape", [(nn.BatchNorm1d, (8, 3)), (nn.BatchNorm1d, (4, 3, 5)),
                                       (nn.BatchNorm2d, (4, 3, 2, 5))])
def test_batch_norm_training_running_stats_and_eval(cls, shape):
    m = cls(3, momentum=0.2)
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    assert list(m.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    _set(m.weight, [0.5, 1.5, -1.0])
    _set(m.bias, [0.1, 0.0, -0.3])
    w, b = _np(m.weight), _np(m.bias)
    axes = (0,) + tuple(range(2, len(shape)))
    rm, rv = np.zeros(3), np.ones(3)
    for step in range(3):
        x = rand(*shape, seed=step) * 2 + 1
        out = m(ac.tensor(x))
        x64 = x.astype(np.float64)
        mean, var = x64.mean(axes), x64.var(axes)
        np.testing.assert_allclose(_np(out), _batch_norm_eval(x64, w, b, mean, var), rtol=1e-4, atol=1e-5)
        n = x.size // 3
        rm = 0.8 * rm + 0.2 * mean
        rv = 0.8 * rv + 0.2 * var * n / (n - 1)                             # unbiased variance
        np.testing.assert_allclose(_np(m.running_mean), rm, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(_np(m.running_var), rv, rtol=1e-5, atol=1e-6)
        assert int(m.num_batches_tracked.item()) == step + 1
    m.eval()
    x = rand(*shape, seed=9)
    np.testing.assert_allclose(_np(m(ac.tensor(x))), _batch_norm_eval(x.astype(np.float64), w, b, rm, rv), rtol=1e-4,
                               atol=1e-5)
    assert int(m.num_batches_tracked.item()) == 3                          # eval does not count


def test_batch_norm_cumulative_average_and_no_tracking():
    m = nn.BatchNorm1d(2, momentum=None, affine=False)
    xs = [rand(6, 2, seed=s) for s in range(3)]
    for x in xs:
        m(ac.tensor(x))
    np.testing.assert_allclose(_np(m.running_mean), np.mean([x.mean(0) for x in xs], axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_np(m.running_var), np.mean([x.var(0, ddof=1) for x in xs], axis=0), rtol=1e-5)
    free = nn.BatchNorm1d(2, track_running_stats=False).eval()
    assert list(free.state_dict()) == ["weight", "bias"]
    x = rand(6, 2)
    np.testing.assert_allclose(_np(free(ac.tensor(x))),
                               _batch_norm_eval(x, np.ones(2), np.zeros(2), x.mean(0), x.var(0)), rtol=1e-4, atol=1e-5)


def test_batch_norm_gradient_flows_to_affine_and_input():
    m = nn.BatchNorm2d(2)
    x = ac.tensor(rand(3, 2, 2, 2), requires_grad=True)
    (m(x) * ac.tensor(rand(3, 2, 2, 2, seed=4))).sum().backward()
    assert x.grad.shape == (3, 2, 2, 2) and m.weight.grad.shape == (2,) and m.bias.grad.shape == (2,)
    np.testing.assert_allclose(m.bias.grad, rand(3, 2, 2, 2, seed=4).sum((0, 2, 3)), rtol=1e-5)


def test_batch_norm_rejects_wrong_rank_and_single_values():
    with pytest.raises(ac.ShapeError):
        nn.BatchNorm2d(3)(ac.zeros(2, 3))
    with pytest.raises(ValueError, match="more than 1 value"):
        nn.BatchNorm1d(3)(ac.zeros(1, 3))


def test_group_norm_and_instance_norm():
    m = nn.GroupNorm(2, 4)
    _set(m.weight, [1.0, 2.0, 0.5, -1.0])
    _set(m.bias, [0.0, 0.1, 0.2, 0.3])
    x = rand(2, 4, 3, 3).astype(np.float64)
    g = x.reshape(2, 2, -1)
    want = ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + 1e-5)).reshape(x.shape)
    want = want * _np(m.weight)[None, :, None, None] + _np(m.bias)[None, :, None, None]
    np.testing.assert_allclose(_np(m(ac.tensor(x.astype(np.float32)))), want, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError):
        nn.GroupNorm(3, 4)

    inorm = nn.InstanceNorm2d(4)
    assert list(inorm.state_dict()) == []
    want = (x - x.mean((2, 3), keepdims=True)) / np.sqrt(x.var((2, 3), keepdims=True) + 1e-5)
    np.testing.assert_allclose(_np(inorm(ac.tensor(x.astype(np.float32)))), want, rtol=1e-4, atol=1e-5)


def test_instance_norm_with_running_stats():
    m = nn.InstanceNorm2d(2, track_running_stats=True, momentum=0.5)
    x = rand(3, 2, 4, 4).astype(np.float64)
    m(ac.tensor(x.astype(np.float32)))
    per = x.reshape(3, 2, -1)
    np.testing.assert_allclose(_np(m.running_mean), 0.5 * per.mean(-1).mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_np(m.running_var), 0.5 + 0.5 * per.var(-1, ddof=1).mean(0), rtol=1e-5)
    m.eval()
    y = m(ac.tensor(x.astype(np.float32)))
    want = _batch_norm_eval(x, np.ones(2), np.zeros(2), _np(m.running_mean), _np(m.running_var))
    np.testing.assert_allclose(_np(y), want, rtol=1e-4, atol=1e-5)



def test_instance_norm_momentum_none_leaves_the_running_stats_as_pytorch_does():
    m = nn.InstanceNorm2d(2, track_running_stats=True, momentum=None)
    y = m(ac.tensor(rand(3, 2, 4, 4)))                                # it raised a TypeError
    np.testing.assert_array_equal(_np(m.running_mean), np.zeros(2))
    np.testing.assert_array_equal(_np(m.running_var), np.ones(2))
    np.testing.assert_allclose(_np(y).reshape(3, 2, -1).mean(-1), 0, atol=1e-5)


# ---- dropout, flatten, identity ----
def test_dropout_module_train_and_eval():
    m = nn.Dropout(0.25)
    x = ac.ones(200, 100)
    y = m(x).numpy()
    kept = y != 0
    assert 0.72 < kept.mean() < 0.78
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    m.eval()
    assert m(x) is x
    seq = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5)).eval()
    assert not seq[1].training
    with pytest.raises(ValueError):
        nn.Dropout(1.5)


def test_dropout_gradient_uses_the_same_mask():
    x = ac.tensor(rand(50, 20), requires_grad=True)
    y = F.dropout(x, 0.5)
    y.sum().backward()
    mask = y.numpy() / np.where(x.numpy() == 0, 1, x.numpy())
    np.testing.assert_allclose(x.grad, mask, rtol=1e-5, atol=1e-6)


def test_dropout_p1_zeroes_everything():
    np.testing.assert_array_equal(F.dropout(ac.ones(3, 3), 1.0).numpy(), 0)


def test_flatten_and_identity():
    x = ac.tensor(rand(2, 3, 4, 5))
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 2)(x).shape == (24, 5)
    assert nn.Identity(7, foo=1)(x) is x


# ---- activations ----
_erf = np.vectorize(math.erf)

ACTIVATIONS = [
    (nn.ReLU(), lambda x: np.maximum(x, 0)),
    (nn.ReLU6(), lambda x: np.clip(x, 0, 6)),
    (nn.LeakyReLU(0.1), lambda x: np.where(x > 0, x, 0.1 * x)),
    (nn.ELU(0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))),
    (nn.GELU(), lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2)))),
    (nn.GELU("tanh"), lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))),
    (nn.SiLU(), lambda x: x * _sigmoid(x)),
    (nn.Sigmoid(), _sigmoid),
    (nn.Tanh(), np.tanh),
    (nn.Softplus(beta=2.0), lambda x: np.log1p(np.exp(2 * x)) / 2),
    (nn.Hardtanh(-2.0, 2.0), lambda x: np.clip(x, -2, 2)),
    (nn.Hardsigmoid(), lambda x: np.clip(x / 6 + 0.5, 0, 1)),
    (nn.Hardswish(), lambda x: x * np.clip(x + 3, 0, 6) / 6),
    (nn.Softmax(dim=1), lambda x: np.exp(x) / np.exp(x).sum(1, keepdims=True)),
    (nn.LogSoftmax(dim=-1), lambda x: x - np.log(np.exp(x).sum(-1, keepdims=True))),
]


@pytest.mark.parametrize("module,ref", ACTIVATIONS, ids=[type(m).__name__ + str(i) for i, (m, _) in
                                                          enumerate(ACTIVATIONS)])
def test_activation_modules(module, ref):
    x = (rand(4, 7) * 3).astype(np.float32)
    np.testing.assert_allclose(_np(module(ac.tensor(x))), ref(x.astype(np.float64)), rtol=1e-4, atol=1e-5)


# ---- loss modules ----
def test_loss_modules_match_their_functions_and_numpy():
    x, t = rand(6, 4), rand(6, 4, seed=1)
    y = np.array([0, 3, 1, 1, 2, 0])
    X, T, Y = ac.tensor(x), ac.tensor(t), ac.tensor(y)
    logp = x - np.log(np.exp(x).sum(1, keepdims=True))
    assert nn.CrossEntropyLoss()(X, Y).item() == pytest.approx(-logp[np.arange(6), y].mean(), rel=1e-5)
    w = np.array([1.0, 2.0, 0.5, 1.0], np.float32)
    got = nn.CrossEntropyLoss(weight=ac.tensor(w), reduction="sum")(X, Y).item()
    assert got == pytest.approx(-(w[y] * logp[np.arange(6), y]).sum(), rel=1e-5)
    assert nn.NLLLoss()(ac.tensor(logp), Y).item() == pytest.approx(-logp[np.arange(6), y].mean(), rel=1e-5)
    assert nn.MSELoss()(X, T).item() == pytest.approx(((x - t) ** 2).mean(), rel=1e-5)
    assert nn.L1Loss(reduction="sum")(X, T).item() == pytest.approx(np.abs(x - t).sum(), rel=1e-5)
    d = np.abs(x - t)
    want = np.where(d < 0.5, 0.5 * d ** 2 / 0.5, d - 0.25).mean()
    assert nn.SmoothL1Loss(beta=0.5)(X, T).item() == pytest.approx(want, rel=1e-5)
    want = np.where(d < 0.5, 0.5 * d ** 2, 0.5 * (d - 0.25)).mean()
    assert nn.HuberLoss(delta=0.5)(X, T).item() == pytest.approx(want, rel=1e-5)
    p, tt = _sigmoid(x), (t > 0).astype(np.float32)
    want = -(tt * np.log(p) + (1 - tt) * np.log(1 - p)).mean()
    assert nn.BCELoss()(ac.tensor(p.astype(np.float32)), ac.tensor(tt)).item() == pytest.approx(want, rel=1e-4)
    assert nn.BCEWithLogitsLoss()(X, ac.tensor(tt)).item() == pytest.approx(want, rel=1e-4)
    pw = np.array([2.0, 1.0, 0.5, 3.0], np.float32)
    want = -(pw * tt * np.log(p) + (1 - tt) * np.log(1 - p)).mean()
    assert nn.BCEWithLogitsLoss(pos_weight=ac.tensor(pw))(X, ac.tensor(tt)).item() == pytest.approx(want, rel=1e-4)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_cross_entropy_mean_over_ignored_and_weighted_elements():
    """The weighted mean divides by the weights of the targets that count (PyTorch's convention)."""
    x = rand(5, 3)
    y = np.array([0, 2, -100, 1, 2])
    w = np.array([0.2, 1.0, 3.0], np.float32)
    logp = x - np.log(np.exp(x).sum(1, keepdims=True))
    keep = y != -100
    ys = y[keep]
    want = -(w[ys] * logp[keep][np.arange(4), ys]).sum() / w[ys].sum()
    assert F.cross_entropy(ac.tensor(x), ac.tensor(y), ac.tensor(w)).item() == pytest.approx(want, rel=1e-5)
    all_ignored = F.cross_entropy(ac.tensor(x), ac.tensor(np.full(5, -100)))
    assert np.isnan(all_ignored.item())


def test_binary_cross_entropy_with_logits_is_stable_for_large_logits():
    x = ac.tensor([200.0, -200.0, 50.0], requires_grad=True)
    t = ac.tensor([0.0, 1.0, 1.0])
    loss = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    np.testing.assert_allclose(loss.numpy(), [200.0, 200.0, 0.0], atol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad, [1.0, -1.0, 0.0], atol=1e-6)


def test_loss_errors_name_the_problem():
    with pytest.raises(ac.ShapeError, match="cross_entropy"):
        F.cross_entropy(ac.zeros(4, 3), ac.tensor([0, 1, 2]))
    with pytest.raises(ac.DTypeError):
        F.nll_loss(ac.zeros(4, 3), ac.zeros(4))
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(ac.zeros(2), ac.zeros(2), reduction="avg")
    with pytest.raises(ac.ShapeError, match="mse_loss"):
        F.mse_loss(ac.zeros(2, 3), ac.zeros(3))


# ---- a network trains ----
def test_small_mlp_learns_a_separable_problem():
    ac.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 2)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.LayerNorm(32), nn.Linear(32, 2))
    opt = ac.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(150):
        opt.zero_grad()
        loss = F.cross_entropy(model(ac.tensor(x)), ac.tensor(y))
        loss.backward()
        opt.step()
    acc = (model(ac.tensor(x)).numpy().argmax(1) == y).mean()
    assert loss.item() < 0.2 and acc > 0.95


# ---- state dicts ----
class _Net(nn.Module):
    def __init__(self, hidden=4):
        super().__init__()
        self.fc = nn.Linear(3, hidden)
        self.bn = nn.BatchNorm1d(hidden)


def test_state_dict_round_trip_and_strictness_names_every_problem():
    a, b = _Net(), _Net()
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(b.fc.weight.numpy(), a.fc.weight.numpy())
    sd = dict(a.state_dict())
    del sd["fc.bias"]
    sd["extra.weight"] = ac.zeros(2)
    sd["fc.weight"] = ac.zeros(5, 3)
    sd["bn.weight"] = ac.zeros(4, dtype="float64")
    before = b.fc.weight.numpy().copy()
    with pytest.raises(StateDictError) as info:
        b.load_state_dict(sd)
    msg = str(info.value)
    for name in ("fc.bias", "extra.weight", "fc.weight", "(5, 3)", "bn.weight", "float64"):
        assert name in msg
    np.testing.assert_array_equal(b.fc.weight.numpy(), before)             # nothing changed


def test_buffers_are_in_the_state_dict_and_loss_weights_are_not_parameters():
    assert "bn.running_var" in _Net().state_dict()
    loss = nn.CrossEntropyLoss(weight=ac.ones(3))
    assert list(loss.parameters()) == []


# ---- init ----
def test_fans_and_gains():
    from autocompyute.nn.init import _calculate_fan_in_and_fan_out, calculate_gain
    assert _calculate_fan_in_and_fan_out(ac.zeros(8, 3, 5, 5)) == (75, 200)
    assert _calculate_fan_in_and_fan_out(ac.zeros(8, 3)) == (3, 8)
    assert calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert calculate_gain("tanh") == pytest.approx(5 / 3)
    assert calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    assert calculate_gain("conv2d") == 1.0
    with pytest.raises(ValueError):
        nn.init.kaiming_uniform_(ac.zeros(3))


@pytest.mark.parametrize("fn,kwargs,want_std", [
    (nn.init.kaiming_uniform_, dict(nonlinearity="relu"), math.sqrt(2 / 40)),
    (nn.init.kaiming_normal_, dict(mode="fan_out", nonlinearity="relu"), math.sqrt(2 / 200)),
    (nn.init.xavier_uniform_, dict(gain=2.0), 2 * math.sqrt(2 / 240)),
    (nn.init.xavier_normal_, {}, math.sqrt(2 / 240)),
    (nn.init.normal_, dict(std=0.02), 0.02),
    (nn.init.uniform_, dict(a=-3.0, b=3.0), 6 / math.sqrt(12)),
])
def test_init_distributions(fn, kwargs, want_std):
    t = ac.zeros(200, 40)
    assert fn(t, **kwargs) is t
    assert abs(t.numpy().std() - want_std) < 0.05 * want_std
    assert abs(t.numpy().mean()) < 0.05 * want_std
    assert t.dtype == np.float32


def test_init_constants_and_reproducibility():
    t = ac.zeros(3, 2)
    np.testing.assert_array_equal(nn.init.ones_(t).numpy(), 1)
    np.testing.assert_array_equal(nn.init.constant_(t, 2.5).numpy(), 2.5)
    np.testing.assert_array_equal(nn.init.zeros_(t).numpy(), 0)
    ac.manual_seed(3)
    a = nn.init.xavier_uniform_(ac.zeros(4, 4)).numpy()
    ac.manual_seed(3)
    np.testing.assert_array_equal(nn.init.xavier_uniform_(ac.zeros(4, 4)).numpy(), a)
    tn = nn.init.trunc_normal_(ac.zeros(1000), std=1.0, a=-0.5, b=0.5).numpy()
    assert tn.min() >= -0.5 and tn.max() <= 0.5


# ---- gradient clipping ----
def test_clip_grad_norm_and_value():
    a = nn.Parameter(np.zeros(3, np.float32))
    b = nn.Parameter(np.zeros((2, 2), np.float32))
    unused = nn.Parameter(np.zeros(2, np.float32))
    ga, gb = np.array([3.0, 0.0, 4.0], np.float32), np.full((2, 2), 6.0, np.float32)
    a.grad, b.grad = ga, gb
    total = nn.utils.clip_grad_norm_([a, b, unused], max_norm=2.0)
    norm = math.sqrt(25 + 4 * 36)
    assert total.item() == pytest.approx(norm, rel=1e-6)
    scale = 2.0 / (norm + 1e-6)
    np.testing.assert_allclose(a.grad, ga * scale, rtol=1e-6)
    np.testing.assert_allclose(b.grad, gb * scale, rtol=1e-6)
    assert ga[0] == 3.0                                                    # the old gradient array is untouched
    assert nn.utils.clip_grad_norm_([a, b], max_norm=100.0).item() == pytest.approx(2.0, rel=1e-5)
    np.testing.assert_allclose(a.grad, ga * scale, rtol=1e-6)              # below max_norm: unchanged
    assert nn.utils.clip_grad_norm_([a], 1.0, norm_type="inf").item() == pytest.approx(4 * scale, rel=1e-6)
    b.grad = np.array([[-5.0, 0.5], [2.0, -0.1]], np.float32)
    nn.utils.clip_grad_value_(b, 1.0)
    np.testing.assert_allclose(b.grad, [[-1.0, 0.5], [1.0, -0.1]])


def test_parameters_are_listed_depth_first_like_pytorch():
    from autocompyute import nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.sub = nn.Linear(2, 2)

    m = nn.Sequential(Block(), nn.Linear(2, 3))
    assert list(m.state_dict()) == ["0.sub.weight", "0.sub.bias", "1.weight", "1.bias"]


def test_module_to_reads_its_arguments_like_tensor_to():
    import autocompyute as ac
    from autocompyute import nn

    m = nn.Linear(2, 2).to("float64")
    assert m.weight.dtype == ac.float64
    with pytest.raises(ac.DeviceError, match="unknown device"):
        m.to("tpu")
    with pytest.raises(ac.DeviceError, match="unknown device"):
        ac.ones(2).to("tpu")


@pytest.mark.parametrize("make,shape", [
    (lambda: nn.Conv2d(3, 4, 3, padding=1), (0, 3, 8, 8)), (lambda: nn.Conv2d(3, 4, 1), (0, 3, 8, 8)),
    (lambda: nn.Conv2d(3, 6, 3, groups=3), (0, 3, 8, 8)), (lambda: nn.Conv1d(3, 4, 3, stride=2), (0, 3, 8)),
    (lambda: nn.ConvTranspose2d(3, 4, 3, stride=2), (0, 3, 4, 4)), (lambda: nn.MaxPool2d(2), (0, 3, 8, 8)),
    (lambda: nn.GroupNorm(1, 3), (0, 3, 4)), (lambda: nn.LayerNorm(3), (0, 3)), (lambda: nn.Linear(3, 2), (0, 3)),
    (lambda: nn.LSTM(3, 4, batch_first=True), (0, 5, 3)), (lambda: nn.GRU(3, 4, batch_first=True), (0, 5, 3)),
    (lambda: nn.RNN(3, 4, batch_first=True), (0, 5, 3)), (lambda: nn.MultiheadAttention(4, 2, batch_first=True),
                                                          (0, 5, 4)),
    (lambda: nn.MultiheadAttention(4, 2, batch_first=True), (2, 0, 4)),
], ids=["conv", "conv1x1", "depthwise", "conv1d", "conv-transpose", "maxpool", "groupnorm", "layernorm", "linear",
        "lstm", "gru", "rnn", "mha-empty-batch", "mha-empty-sequence"])
def test_an_empty_batch_goes_forward_and_backward(make, shape):
    """As in PyTorch, a batch of 0 samples (or a sequence of 0 tokens for attention) gives an empty output and
    zero weight gradients; reshapes to (0, -1) and reductions of empty rows failed."""
    layer = make()
    x = ac.zeros(*shape, requires_grad=True)
    y = layer(x, x, x) if isinstance(layer, nn.MultiheadAttention) else layer(x)
    y = y[0] if isinstance(y, tuple) else y
    assert y.numel() == 0
    y.sum().backward()
    assert x.grad.shape == x.shape
    assert all(p.grad is None or not np.any(p.grad) for p in layer.parameters())


def test_a_recurrent_layer_refuses_a_sequence_without_steps():
    with pytest.raises(ac.ShapeError, match=r"LSTM: input \(2, 0, 3\) has no time steps"):
        nn.LSTM(3, 4, batch_first=True)(ac.zeros(2, 0, 3))
