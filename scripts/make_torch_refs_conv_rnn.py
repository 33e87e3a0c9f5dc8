"""Write tests/fixtures/torch_ref/conv_rnn.npz: PyTorch's outputs and gradients for convolution, pooling,
recurrent and attention layers, with their state dicts, on small fixed inputs (float64). The tests rebuild each
layer from the stored spec with autocompyute.nn, load the state dict (which proves the names and layouts match)
and compare; they need no torch. Run this script (with torch installed) only to regenerate the file.

    python scripts/make_torch_refs_conv_rnn.py
"""
import json
import pathlib

import numpy as np
import torch

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "torch_ref" / "conv_rnn.npz"

# name, layer class in torch.nn / autocompyute.nn (or a function of nn.functional), constructor kwargs,
# inputs (shape, kind) passed positionally, keyword inputs, plain keyword arguments of the call
SPECS = [
    ("conv2d_groups", "Conv2d", dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1, groups=2),
     [((2, 4, 9, 8), "f")], {}, {}),
    ("conv2d_same_dilated", "Conv2d", dict(in_channels=3, out_channels=4, kernel_size=(3, 2), padding="same",
                                           dilation=(2, 1)), [((2, 3, 7, 6), "f")], {}, {}),
    ("conv2d_depthwise", "Conv2d", dict(in_channels=4, out_channels=8, kernel_size=3, padding=1, groups=4,
                                        bias=False), [((2, 4, 6, 5), "f")], {}, {}),
    ("conv1d", "Conv1d", dict(in_channels=3, out_channels=4, kernel_size=4, stride=2, padding=2, dilation=2),
     [((2, 3, 13), "f")], {}, {}),
    ("conv_transpose2d_outpad", "ConvTranspose2d", dict(in_channels=4, out_channels=6, kernel_size=3, stride=2,
                                                        padding=1, output_padding=1, groups=2),
     [((2, 4, 4, 5), "f")], {}, {}),
    ("conv_transpose2d_dilated", "ConvTranspose2d", dict(in_channels=3, out_channels=2, kernel_size=(2, 3),
                                                         stride=(1, 2), padding=(0, 1), output_padding=(1, 0),
                                                         dilation=(2, 1)), [((1, 3, 4, 4), "f")], {}, {}),
    ("maxpool2d_ceil", "MaxPool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, return_indices=True),
     [((2, 3, 8, 7), "distinct")], {}, {}),
    ("maxpool2d_dilated", "MaxPool2d", dict(kernel_size=(2, 3), stride=(2, 1), dilation=(2, 1)),
     [((2, 2, 9, 7), "distinct")], {}, {}),
    ("maxpool1d", "MaxPool1d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
     [((2, 3, 10), "distinct")], {}, {}),
    ("avgpool2d_ceil", "AvgPool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
     [((2, 3, 8, 7), "f")], {}, {}),
    ("avgpool2d_exclude_pad", "AvgPool2d", dict(kernel_size=(3, 2), stride=2, padding=1, ceil_mode=True,
                                                count_include_pad=False), [((2, 2, 7, 6), "f")], {}, {}),
    ("avgpool2d_divisor", "AvgPool2d", dict(kernel_size=2, stride=1, divisor_override=3),
     [((2, 2, 4, 5), "f")], {}, {}),
    ("adaptive_avgpool2d", "AdaptiveAvgPool2d", dict(output_size=(3, 2)), [((2, 3, 7, 5), "f")], {}, {}),
    ("adaptive_avgpool2d_none", "AdaptiveAvgPool2d", dict(output_size=(5, None)), [((2, 3, 4, 6), "f")], {}, {}),
    ("lstm_2layer_bidir_batch_first", "LSTM", dict(input_size=4, hidden_size=5, num_layers=2, bidirectional=True,
                                                   batch_first=True),
     [((3, 6, 4), "f"), [((4, 3, 5), "f"), ((4, 3, 5), "f")]], {}, {}),
    ("gru_2layer_bidir", "GRU", dict(input_size=4, hidden_size=3, num_layers=2, bidirectional=True),
     [((6, 2, 4), "f"), ((4, 2, 3), "f")], {}, {}),
    ("rnn_relu_no_bias", "RNN", dict(input_size=3, hidden_size=4, nonlinearity="relu", bias=False),
     [((5, 2, 3), "f")], {}, {}),
    ("lstm_unbatched", "LSTM", dict(input_size=3, hidden_size=2), [((4, 3), "f")], {}, {}),
    ("mha_self_masks", "MultiheadAttention", dict(embed_dim=8, num_heads=2),
     [((5, 3, 8), "f"), ("same", 0), ("same", 0)],
     {"key_padding_mask": ((3, 5), "padding"), "attn_mask": ((5, 5), "bool_mask")}, {}),
    ("mha_cross_kdim_batch_first", "MultiheadAttention", dict(embed_dim=6, num_heads=3, kdim=4, vdim=5,
                                                              batch_first=True),
     [((2, 3, 6), "f"), ((2, 4, 4), "f"), ((2, 4, 5), "f")], {}, {"average_attn_weights": False}),
    ("mha_float_mask_no_weights", "MultiheadAttention", dict(embed_dim=4, num_heads=2, bias=False),
     [((3, 2, 4), "f"), ((5, 2, 4), "f"), ((5, 2, 4), "f")], {"attn_mask": ((4, 3, 5), "f")},
     {"need_weights": False}),
    ("sdpa_bool_mask", "fn:scaled_dot_product_attention", dict(),
     [((2, 2, 4, 3), "f"), ((2, 2, 5, 3), "f"), ((2, 2, 5, 2), "f")], {"attn_mask": ((4, 5), "attend_mask")},
     {"scale": 0.7}),
    ("sdpa_causal", "fn:scaled_dot_product_attention", dict(),
     [((2, 4, 3), "f"), ((2, 6, 3), "f"), ((2, 6, 3), "f")], {}, {"is_causal": True}),
    ("conv2d_reflect", "Conv2d", dict(in_channels=2, out_channels=3, kernel_size=3, padding=(2, 1),
                                      padding_mode="reflect"), [((2, 2, 6, 5), "f")], {}, {}),
    ("conv2d_circular_stride", "Conv2d", dict(in_channels=2, out_channels=2, kernel_size=(2, 3), stride=2, padding=1,
                                              padding_mode="circular"), [((1, 2, 5, 6), "f")], {}, {}),
    ("conv1d_replicate_same", "Conv1d", dict(in_channels=2, out_channels=3, kernel_size=4, padding="same",
                                             padding_mode="replicate"), [((2, 2, 7), "f")], {}, {}),
]


def make_input(rng, shape, kind):
    if kind == "f":
        return rng.standard_normal(shape)
    if kind == "distinct":
        n = int(np.prod(shape))
        return (rng.permutation(n) * 0.1 - 0.05 * n).reshape(shape)
    # "padding": True = padded key; "bool_mask" (MultiheadAttention): True = not allowed; never a whole row
    if kind in ("padding", "bool_mask"):
        m = rng.random(shape) < 0.3
        m[:, 0] = False
        return m
    if kind == "attend_mask":                      # scaled_dot_product_attention: True = attend
        m = rng.random(shape) < 0.7
        m[:, 0] = True
        return m
    raise ValueError(kind)


def to_torch(a):
    if isinstance(a, list):
        return tuple(to_torch(b) for b in a)
    t = torch.tensor(a)
    return t.requires_grad_(True) if t.dtype == torch.float64 else t


def flat_outputs(out):
    if isinstance(out, torch.Tensor):
        return [out]
    return [t for o in out if o is not None for t in flat_outputs(o)]


def main():
    torch.manual_seed(0)
    rng = np.random.default_rng(2024)
    refs = {}
    for name, cls, kwargs, args, kw_inputs, kw_plain in SPECS:
        arrays = []
        for a in args:
            if isinstance(a, list):
                arrays.append([make_input(rng, *b) for b in a])
            elif a[0] == "same":
                arrays.append(arrays[a[1]])
            else:
                arrays.append(make_input(rng, *a))
        kw_arrays = {k: make_input(rng, *v) for k, v in kw_inputs.items()}
        t_args, seen = [], {}
        for a in arrays:                               # the same array object -> the same tensor (self-attention)
            key = id(a)
            if key not in seen:
                seen[key] = to_torch(a)
            t_args.append(seen[key])
        t_kw = {k: to_torch(v) for k, v in kw_arrays.items()}
        if cls.startswith("fn:"):
            module, params = None, {}
            out = getattr(torch.nn.functional, cls[3:])(*t_args, **t_kw, **kw_plain)
        else:
            module = getattr(torch.nn, cls)(**kwargs).double()
            with torch.no_grad():                       # biases that PyTorch starts at zero get values, to be seen
                for pname, p in module.named_parameters():
                    if "bias" in pname:
                        p.uniform_(-0.5, 0.5)
            params = dict(module.named_parameters())
            out = module(*t_args, **t_kw, **kw_plain)
        outs = flat_outputs(out)
        total = 0
        for j, o in enumerate(outs):
            refs[f"{name}/out{j}"] = o.detach().numpy()
            if o.dtype == torch.float64:
                w = rng.standard_normal(tuple(o.shape))
                refs[f"{name}/w{j}"] = w
                total = total + (o * torch.tensor(w)).sum()
        total.backward()
        spec = dict(cls=cls, kwargs=kwargs, kw_plain=kw_plain, n_args=len(arrays),
                    same=[next(i for i, b in enumerate(arrays) if b is a) for a in arrays],
                    nested=[isinstance(a, list) for a in arrays], kw_inputs=sorted(kw_arrays))
        refs[f"{name}/spec"] = np.array(json.dumps(spec))
        flat_args = [(f"in{i}", a, t) for i, (a, t) in enumerate(zip(arrays, t_args)) if not isinstance(a, list)]
        flat_args += [(f"in{i}_{j}", b, tb) for i, (a, t) in enumerate(zip(arrays, t_args)) if isinstance(a, list)
                      for j, (b, tb) in enumerate(zip(a, t))]
        flat_args += [(f"kw_{k}", kw_arrays[k], t_kw[k]) for k in kw_arrays]
        for key, a, t in flat_args:
            refs[f"{name}/{key}"] = np.asarray(a)
            if t.requires_grad and t.grad is not None:
                refs[f"{name}/grad_{key}"] = t.grad.numpy()
        for pname, p in params.items():
            refs[f"{name}/param/{pname}"] = p.detach().numpy()
            refs[f"{name}/grad_param/{pname}"] = p.grad.numpy()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **refs)
    print(f"wrote {len(refs)} arrays to {OUT}")


if __name__ == "__main__":
    main()
