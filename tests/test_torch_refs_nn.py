"""Losses, normalisations, optimizers and schedulers against PyTorch's own numbers, stored in
tests/fixtures/torch_ref/nn.npz by scripts/make_torch_refs_nn.py (no torch needed here)."""
import pathlib

import numpy as np
import pytest

import autocompyute as ac
import autocompyute.nn.functional as F
from autocompyute import nn, optim
from autocompyute.optim import lr_scheduler as sched
from carry_over import carry_over_model
from nn_helpers import lr_trace

REFS = np.load(pathlib.Path(__file__).parent / "fixtures" / "torch_ref" / "nn.npz")

FUNCTIONS = {
    "ce_full_mean": lambda a, b, c: F.cross_entropy(a, b, c, ignore_index=3, label_smoothing=0.15),
    "ce_full_sum": lambda a, b, c: F.cross_entropy(a, b, c, ignore_index=3, reduction="sum", label_smoothing=0.15),
    "ce_full_none": lambda a, b, c: F.cross_entropy(a, b, c, ignore_index=3, reduction="none",
                                                    label_smoothing=0.15),
    "ce_spatial_smooth": lambda a, b: F.cross_entropy(a, b, label_smoothing=0.3),
    "ce_probs_weight_smooth": lambda a, b, c: F.cross_entropy(a, b, c, label_smoothing=0.2),
    "nll_weighted_ignore": lambda a, b, c: F.nll_loss(F.log_softmax(a, 1), b, c, ignore_index=3),
    "bce_weight": lambda a, b, c: F.binary_cross_entropy(a, b, c),
    "bce_logits_pos_weight": lambda a, b, c: F.binary_cross_entropy_with_logits(a, b, pos_weight=c, reduction="sum"),
    "smooth_l1_beta": lambda a, b: F.smooth_l1_loss(a, b, beta=0.7),
    "layer_norm": lambda a, b, c: F.layer_norm(a, (4, 5), b, c),
    "group_norm": lambda a, b, c: F.group_norm(a, 3, b, c),
    "batch_norm_train": lambda a, b, c: F.batch_norm(a, None, None, b, c, training=True),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_against_torch(name):
    inputs = []
    i = 0
    while f"{name}/in{i}" in REFS:
        inputs.append(REFS[f"{name}/in{i}"])
        i += 1
    wrt = [j for j in range(len(inputs)) if f"{name}/grad{j}" in REFS]
    tensors = [ac.tensor(a, requires_grad=j in wrt) for j, a in enumerate(inputs)]
    out = FUNCTIONS[name](*tensors)
    np.testing.assert_allclose(out.numpy(), REFS[f"{name}/out"], rtol=1e-10, atol=1e-12)
    (out * ac.tensor(REFS[f"{name}/w"])).sum().backward()
    for j in wrt:
        np.testing.assert_allclose(tensors[j].grad, REFS[f"{name}/grad{j}"], rtol=1e-9, atol=1e-12,
                                   err_msg=f"gradient of input {j}")


def test_batch_norm_running_statistics_against_torch():
    m = nn.BatchNorm2d(4, momentum=0.3).double()
    for i in range(3):
        m(ac.tensor(REFS[f"bn_running/x{i}"]))
    np.testing.assert_allclose(m.running_mean.numpy(), REFS["bn_running/mean"], rtol=1e-12)
    np.testing.assert_allclose(m.running_var.numpy(), REFS["bn_running/var"], rtol=1e-12)
    m.eval()
    np.testing.assert_allclose(m(ac.tensor(REFS["bn_running/x0"])).numpy(), REFS["bn_running/eval_out"],
                               rtol=1e-10, atol=1e-12)


OPTIMIZERS = {
    "sgd_nesterov_wd": lambda ps: optim.SGD(ps, lr=0.02, momentum=0.9, nesterov=True, weight_decay=0.1),
    "sgd_dampening": lambda ps: optim.SGD(ps, lr=0.02, momentum=0.7, dampening=0.5),
    "adam_amsgrad_wd": lambda ps: optim.Adam(ps, lr=0.05, betas=(0.8, 0.9), weight_decay=0.1, amsgrad=True),
    "adamw": lambda ps: optim.AdamW(ps, lr=0.05, weight_decay=0.3),
    "rmsprop_centered_momentum": lambda ps: optim.RMSprop(ps, lr=0.01, alpha=0.9, momentum=0.5, centered=True,
                                                          weight_decay=0.05),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_trajectory_against_torch(name):
    A, b = ac.tensor(REFS["optim/A"]), ac.tensor(REFS["optim/b"])
    p = nn.Parameter(REFS["optim/p0"].copy())
    opt = OPTIMIZERS[name]([p])
    traj = []
    for _ in range(8):
        opt.zero_grad()
        r = A @ p - b
        (0.5 * (r * r).sum()).backward()
        opt.step()
        traj.append(p.numpy().copy())
    np.testing.assert_allclose(np.array(traj), REFS[f"optim/{name}"], rtol=1e-10, atol=1e-12)


SCHEDULES = {
    "step": lambda o: sched.StepLR(o, 3, gamma=0.3),
    "cosine": lambda o: sched.CosineAnnealingLR(o, T_max=10, eta_min=0.01),
    "linear": lambda o: sched.LinearLR(o, start_factor=0.1, total_iters=4),
    "warmup_cosine": lambda o: sched.SequentialLR(o, [sched.LinearLR(o, start_factor=0.1, total_iters=3),
                                                      sched.CosineAnnealingLR(o, T_max=8)], milestones=[3]),
}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedule_against_torch(name):
    lrs = lr_trace(SCHEDULES[name], 12, lr=0.5)
    np.testing.assert_allclose(lrs, REFS[f"sched/{name}"], rtol=1e-9, atol=1e-12)



def test_a_pytorch_state_dict_loads_strictly_and_gives_pytorchs_output():
    model = carry_over_model(nn).double()
    state = {k[len("carry/sd/"):]: REFS[k] for k in REFS.files if k.startswith("carry/sd/")}
    assert list(state) == list(model.state_dict())                      # same names, same order
    assert model.load_state_dict(state) == ([], [])
    model.eval()
    np.testing.assert_allclose(model(ac.tensor(REFS["carry/tokens"])).numpy(), REFS["carry/out"], rtol=1e-9,
                               atol=1e-12)
