"""Write tests/fixtures/torch_ref/nn.npz: PyTorch's outputs and gradients for losses and normalisations, its
optimizer trajectories and learning-rate schedules, on small fixed inputs. The tests compare against this file
and need no torch; run this script (with torch installed) only to regenerate it.

    python scripts/make_torch_refs_nn.py
"""
import pathlib

import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))
from carry_over import carry_over_model  # noqa: E402  (the network shared with the tests)

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "torch_ref" / "nn.npz"


def t64(a, grad=False):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=grad)


def main():
    rng = np.random.default_rng(1234)
    refs = {}

    def record(name, fn, *inputs, wrt=(0,)):
        """fn(*tensors) -> tensor; store inputs, the output, and gradients of sum(out * w) for inputs in wrt."""
        tensors = [t64(a, i in wrt) if np.asarray(a).dtype.kind == "f" else torch.tensor(a) for i, a in
                   enumerate(inputs)]
        out = fn(*tensors)
        w = rng.standard_normal(tuple(out.shape))
        (out * t64(w)).sum().backward()
        for i, a in enumerate(inputs):
            refs[f"{name}/in{i}"] = np.asarray(a)
        refs[f"{name}/out"] = out.detach().numpy()
        refs[f"{name}/w"] = w
        for i in wrt:
            refs[f"{name}/grad{i}"] = tensors[i].grad.numpy()

    x = rng.standard_normal((8, 5))
    y = rng.integers(0, 5, 8)
    y[[1, 4]] = 3                         # the ignored class
    wc = rng.uniform(0.2, 2.0, 5)
    for red in ("mean", "sum", "none"):
        record(f"ce_full_{red}", lambda a, b, c, red=red: F.cross_entropy(a, b, c, ignore_index=3, reduction=red,
                                                                           label_smoothing=0.15), x, y, wc)
    xs = rng.standard_normal((2, 5, 3, 2))
    ys = rng.integers(0, 5, (2, 3, 2))
    record("ce_spatial_smooth", lambda a, b: F.cross_entropy(a, b, label_smoothing=0.3), xs, ys)
    probs = rng.dirichlet(np.ones(5), 8)
    record("ce_probs_weight_smooth", lambda a, b, c: F.cross_entropy(a, b, c, label_smoothing=0.2), x, probs, wc,
           wrt=(0, 1))
    record("nll_weighted_ignore", lambda a, b, c: F.nll_loss(F.log_softmax(a, 1), b, c, ignore_index=3), x, y, wc)
    p = rng.uniform(0.02, 0.98, (4, 3))
    tgt = rng.uniform(0, 1, (4, 3))
    record("bce_weight", lambda a, b, c: F.binary_cross_entropy(a, b, c), p, tgt, rng.uniform(0.5, 2, 3),
           wrt=(0, 1))
    logits = rng.standard_normal((4, 3)) * 4
    record("bce_logits_pos_weight", lambda a, b, c: F.binary_cross_entropy_with_logits(a, b, pos_weight=c,
                                                                                         reduction="sum"),
           logits, tgt, rng.uniform(0.5, 3, 3), wrt=(0, 1))
    record("smooth_l1_beta", lambda a, b: F.smooth_l1_loss(a, b, beta=0.7), logits / 4, tgt, wrt=(0, 1))
    xn = rng.standard_normal((3, 4, 5)) * 2 + 1
    record("layer_norm", lambda a, b, c: F.layer_norm(a, (4, 5), b, c), xn, rng.standard_normal((4, 5)),
           rng.standard_normal((4, 5)), wrt=(0, 1, 2))
    xg = rng.standard_normal((2, 6, 3, 3))
    record("group_norm", lambda a, b, c: F.group_norm(a, 3, b, c), xg, rng.standard_normal(6),
           rng.standard_normal(6), wrt=(0, 1, 2))
    record("batch_norm_train", lambda a, b, c: F.batch_norm(a, None, None, b, c, training=True), xg[:, :4],
           rng.standard_normal(4), rng.standard_normal(4), wrt=(0, 1, 2))

    # BatchNorm2d running statistics over three training steps, then eval
    bn = torch.nn.BatchNorm2d(4, momentum=0.3).double()
    for i in range(3):
        xb = rng.standard_normal((3, 4, 2, 2)) * (i + 1) + i
        refs[f"bn_running/x{i}"] = xb
        bn(t64(xb))
    refs["bn_running/mean"] = bn.running_mean.numpy()
    refs["bn_running/var"] = bn.running_var.numpy()
    bn.eval()
    refs["bn_running/eval_out"] = bn(t64(refs["bn_running/x0"])).detach().numpy()

    # optimizer trajectories on 0.5 * ||A p - b||^2
    A = rng.standard_normal((6, 4))
    b = rng.standard_normal(6)
    p0 = rng.standard_normal(4)
    refs["optim/A"], refs["optim/b"], refs["optim/p0"] = A, b, p0
    setups = {
        "sgd_nesterov_wd": lambda ps: torch.optim.SGD(ps, lr=0.02, momentum=0.9, nesterov=True, weight_decay=0.1),
        "sgd_dampening": lambda ps: torch.optim.SGD(ps, lr=0.02, momentum=0.7, dampening=0.5),
        "adam_amsgrad_wd": lambda ps: torch.optim.Adam(ps, lr=0.05, betas=(0.8, 0.9), weight_decay=0.1,
                                                       amsgrad=True),
        "adamw": lambda ps: torch.optim.AdamW(ps, lr=0.05, weight_decay=0.3),
        "rmsprop_centered_momentum": lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.9, momentum=0.5,
                                                                    centered=True, weight_decay=0.05),
    }
    for name, make in setups.items():
        param = torch.nn.Parameter(t64(p0))
        opt = make([param])
        traj = []
        for _ in range(8):
            opt.zero_grad()
            (0.5 * ((t64(A) @ param - t64(b)) ** 2).sum()).backward()
            opt.step()
            traj.append(param.detach().numpy().copy())
        refs[f"optim/{name}"] = np.array(traj)

    # learning-rate schedules
    def schedule(make, steps=12):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
        s = make(opt)
        lrs = [opt.param_groups[0]["lr"]]
        for _ in range(steps):
            opt.step()
            s.step()
            lrs.append(opt.param_groups[0]["lr"])
        return np.array(lrs)

    sched = torch.optim.lr_scheduler
    refs["sched/step"] = schedule(lambda o: sched.StepLR(o, 3, gamma=0.3))
    refs["sched/cosine"] = schedule(lambda o: sched.CosineAnnealingLR(o, T_max=10, eta_min=0.01))
    refs["sched/linear"] = schedule(lambda o: sched.LinearLR(o, start_factor=0.1, total_iters=4))
    refs["sched/warmup_cosine"] = schedule(lambda o: sched.SequentialLR(
        o, [sched.LinearLR(o, start_factor=0.1, total_iters=3), sched.CosineAnnealingLR(o, T_max=8, eta_min=0.0)],
        milestones=[3]))

    # a state dict made by PyTorch loads into the same architecture here (names, shapes, dtypes, buffers)
    torch.manual_seed(0)
    model = carry_over_model(torch.nn).double()
    tokens = rng.integers(0, 10, (4, 3))
    model.train()
    model(torch.tensor(tokens))                     # move the BatchNorm statistics away from their defaults
    model.eval()
    for k, v in model.state_dict().items():
        refs[f"carry/sd/{k}"] = v.numpy()
    refs["carry/tokens"] = tokens
    refs["carry/out"] = model(torch.tensor(tokens)).detach().numpy()

    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **refs)
    print(f"wrote {len(refs)} arrays to {OUT} (torch {torch.__version__})")


if __name__ == "__main__":
    main()
