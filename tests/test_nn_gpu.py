"""nn layers, losses, optimizers and checkpoints on CUDA (CuPy) give what they give on the CPU.
Skipped without CuPy and an NVIDIA GPU."""
import numpy as np
import pytest

import autocompyute as ac
import autocompyute.nn.functional as F
from autocompyute import checkpoint, nn, optim

pytestmark = pytest.mark.gpu


def _model(seed=0):
    ac.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.GELU(), nn.Dropout(0.0), nn.LayerNorm(16),
                         nn.Linear(16, 4)).double()


def _data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((12, 6)), rng.integers(0, 4, 12)


@pytest.mark.parametrize("make_opt", [lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True),
                                      lambda ps: optim.AdamW(ps, lr=0.01),
                                      lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
                                      lambda ps: optim.RMSprop(ps, lr=0.01, centered=True, momentum=0.5)])
def test_training_steps_match_cpu(make_opt):
    x, y = _data()
    results = []
    for device in ("cpu", "cuda"):
        model = _model().to(device)
        opt = make_opt(model.parameters())
        for _ in range(3):
            opt.zero_grad()
            loss = F.cross_entropy(model(ac.tensor(x, device=device)), ac.tensor(y, device=device),
                                   label_smoothing=0.1)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        assert model[0].weight.device == device
        results.append({k: v.numpy() for k, v in model.state_dict().items()})
    for k in results[0]:
        np.testing.assert_allclose(results[1][k], results[0][k], rtol=1e-7, atol=1e-9, err_msg=k)  # Adam amplifies
        # the last-digit differences of GPU reductions in near-zero gradients


def test_ops_on_cuda_match_cpu():
    rng = np.random.default_rng(1)
    x4 = rng.standard_normal((2, 4, 3, 3))
    idx = np.array([[1, 2, 1], [0, 3, 3]])
    logits = rng.standard_normal((5, 3))
    t = rng.uniform(0, 1, (5, 3))
    table_np = rng.standard_normal((4, 2))

    def run(device):
        d = dict(device=device)
        xs = ac.tensor(x4, requires_grad=True, **d)
        table = ac.tensor(table_np, requires_grad=True, **d)
        outs = [F.group_norm(xs, 2), F.instance_norm(xs), F.batch_norm(xs, None, None, training=True),
                F.embedding(ac.tensor(idx, **d), table, padding_idx=3).sum(-1),
                F.binary_cross_entropy_with_logits(ac.tensor(logits, **d), ac.tensor(t, **d),
                                                   pos_weight=ac.tensor([1.0, 2.0, 0.5], **d)),
                F.nll_loss(ac.tensor(logits, **d), ac.tensor([0, 1, 2, 1, -100], **d)),
                F.smooth_l1_loss(ac.tensor(logits, **d), ac.tensor(t, **d), beta=0.5), F.elu(xs)]
        total = sum((o * o).sum() for o in outs)
        total.backward()
        return [o.numpy() for o in outs] + [ac.tensor(xs.grad).numpy(), ac.tensor(table.grad).numpy()]

    cpu = run("cpu")
    gpu = run("cuda")
    for i, (a, b) in enumerate(zip(cpu, gpu)):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-11, err_msg=f"output {i}")


def test_dropout_and_init_on_cuda():
    ac.manual_seed(0)
    y = F.dropout(ac.ones(100, 100, device="cuda"), 0.3)
    assert y.device == "cuda"
    kept = y.numpy() != 0
    assert 0.65 < kept.mean() < 0.75
    np.testing.assert_allclose(y.numpy()[kept], 1 / 0.7, rtol=1e-6)
    ac.manual_seed(4)
    a = nn.Linear(5, 3, device="cuda")
    ac.manual_seed(4)
    b = nn.Linear(5, 3)
    assert a.weight.device == "cuda"
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())      # same draws on every device


def test_checkpoint_from_cuda_loads_on_cpu(tmp_path):
    model = _model().to("cuda")
    opt = optim.Adam(model.parameters())
    x, y = _data()
    F.cross_entropy(model(ac.tensor(x, device="cuda")), ac.tensor(y, device="cuda")).backward()
    opt.step()
    path = tmp_path / "ck.safetensors"
    checkpoint.save(model, path, optimizer=opt)
    cpu_model = _model(seed=5)
    cpu_opt = optim.Adam(cpu_model.parameters())
    checkpoint.load_into(cpu_model, path, optimizer=cpu_opt)
    np.testing.assert_array_equal(cpu_model[0].weight.numpy(), model[0].weight.numpy())
    assert isinstance(cpu_opt.state[id(cpu_model[0].weight)]["exp_avg"], np.ndarray)
