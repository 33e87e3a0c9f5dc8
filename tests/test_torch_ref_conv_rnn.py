"""Convolution, pooling, recurrent and attention layers against PyTorch's outputs and gradients, recorded by
scripts/make_torch_refs_conv_rnn.py in tests/fixtures/torch_ref/conv_rnn.npz (no torch needed here).

Each layer is rebuilt from its stored spec with autocompyute.nn and given PyTorch's state dict through a strict
load_state_dict, so the parameter names, shapes and layouts (gate orders included) must match PyTorch's."""
import json
import pathlib

import numpy as np
import pytest

import autocompyute as ac
import autocompyute.nn as nn
import autocompyute.nn.functional as F

REFS = np.load(pathlib.Path(__file__).parent / "fixtures" / "torch_ref" / "conv_rnn.npz")
NAMES = sorted({k.split("/")[0] for k in REFS.files})


def _tensor(a):
    return ac.tensor(a, requires_grad=a.dtype.kind == "f")


@pytest.mark.parametrize("name", NAMES)
def test_layer_matches_pytorch(name):
    r = {k[len(name) + 1:]: REFS[k] for k in REFS.files if k.startswith(name + "/")}
    spec = json.loads(str(r["spec"]))
    leaves = {}
    args = []
    for i in range(spec["n_args"]):
        if spec["nested"][i]:
            group = []
            for j in range(2):
                leaves[f"in{i}_{j}"] = _tensor(r[f"in{i}_{j}"])
                group.append(leaves[f"in{i}_{j}"])
            args.append(tuple(group))
        elif spec["same"][i] != i:
            args.append(args[spec["same"][i]])
        else:
            leaves[f"in{i}"] = _tensor(r[f"in{i}"])
            args.append(leaves[f"in{i}"])
    kw = {}
    for k in spec["kw_inputs"]:
        leaves[f"kw_{k}"] = _tensor(r[f"kw_{k}"])
        kw[k] = leaves[f"kw_{k}"]
    if spec["cls"].startswith("fn:"):
        module = None
        out = getattr(F, spec["cls"][3:])(*args, **kw, **spec["kw_plain"])
    else:
        module = getattr(nn, spec["cls"])(**spec["kwargs"]).double()
        state = {k[len("param/"):]: v for k, v in r.items() if k.startswith("param/")}
        module.load_state_dict(state)                                   # strict: names, shapes, dtypes
        out = module(*args, **kw, **spec["kw_plain"])

    def flat(o):
        if isinstance(o, ac.Tensor):
            return [o]
        return [t for x in o if x is not None for t in flat(x)]
    outs = flat(out)
    assert len(outs) == len([k for k in r if k.startswith("out")])
    total = None
    for j, o in enumerate(outs):
        want = r[f"out{j}"]
        assert o.shape == want.shape, f"output {j}: shape {o.shape} != PyTorch's {want.shape}"
        if want.dtype.kind == "f":
            np.testing.assert_allclose(o.numpy(), want, rtol=1e-9, atol=1e-11, err_msg=f"output {j}")
            term = (o * ac.tensor(r[f"w{j}"])).sum()
            total = term if total is None else total + term
        else:
            np.testing.assert_array_equal(o.numpy(), want, err_msg=f"output {j}")
    total.backward()
    for key, t in leaves.items():
        if f"grad_{key}" in r:
            np.testing.assert_allclose(np.asarray(t.grad), r[f"grad_{key}"], rtol=1e-8, atol=1e-10,
                                       err_msg=f"gradient of {key}")
    if module is not None:
        params = dict(module.named_parameters())
        for k, want in r.items():
            if k.startswith("grad_param/"):
                p = params[k[len("grad_param/"):]]
                np.testing.assert_allclose(np.asarray(p.grad), want, rtol=1e-8, atol=1e-10, err_msg=k)
