"""ONNX export against onnxruntime: every op case of the table (tests/op_cases.py) exported alone, at several
opsets and with a symbolic batch; the export options; completeness of the rule table."""
import re

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import autocompyute as ac  # noqa: E402
from autocompyute import nn  # noqa: E402
from autocompyute.ops import all_ops  # noqa: E402
from gradcheck import as_list  # noqa: E402
from interop import export_onnx  # noqa: E402
from interop.errors import ExportError  # noqa: E402
from interop.onnx.builder import MAX_OPSET, MIN_OPSET  # noqa: E402
from interop.onnx.registry import EXPORT_RULES, load_rules  # noqa: E402
import model_zoo  # noqa: E402
from op_cases import CASES  # noqa: E402

RTOL, ATOL = 1e-4, 1e-5

# Cases that cannot be exported, each with its reason.
EXPORT_EXEMPT = {
    "dropout_seeded_mask": "a training-mode Dropout draws its mask from onnxruntime's generator, not ours: the "
                           "values cannot match (test_training_mode_keeps_dropout checks the node instead)",
}

# Cases whose export is right at the example's shapes but cannot have a symbolic batch, each with its reason.
DYNAMIC_EXEMPT = {
    "squeeze_all": "squeezes every size-1 dim, the example's batch of 1 included: the rank follows the batch",
    "squeeze_tuple_and_noop": "squeezes dim 0, the example's batch of 1",
    "split_one_used": "splits dim 0 into pieces of 1: the number of pieces follows the batch",
    "split_reused": "splits dim 0 into pieces of 2: the number of pieces follows the batch",
    "chunk_fewer": "chunks dim 0: the number of pieces follows the batch",
    "getitem_tensor_index": "indexes with an input tensor, which the engine takes as a constant",
    "getitem_mask": "a boolean mask input: the output size depends on the values",
    "getitem_row_mask": "a boolean mask over the batch dim: the output size depends on the values",
    "getitem_adv_slice_adv": "integer arrays index the batch dim (dim 0)",
    "getitem_adv_broadcast": "integer arrays index the batch dim (dim 0)",
    "getitem_adv_after_slice": "the second input is an index array, which the engine takes as a constant",
    "gather_map": "a flat gather over the whole tensor: its index table has the example's size",
    "gather_map_weighted_two_inputs": "a flat gather over the whole tensors: its index table has the example's size",
    "dropout_seeded_mask": "random mask (see EXPORT_EXEMPT)",
    "sdpa_bool_mask": "ops/attention.additive_mask turns the boolean mask input into a float array outside the "
                      "graph (not an Op), so it is a constant of the example's batch",
    "sdpa_fully_masked_row": "boolean mask input over the batch dim, made a constant by additive_mask (see above)",
}


def _f32(arrays):
    return [np.ascontiguousarray(a.astype(np.float32) if a.dtype.kind == "f" else a) for a in arrays]


def run_ort(model, feeds, optimize=True):
    """Check the model fully, load it in onnxruntime and run it on `feeds` (a list, in input order)."""
    onnx.checker.check_model(model, full_check=True)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    if not optimize:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    return sess.run(None, dict(zip(names, feeds)))


def assert_matches(got, want):
    assert len(got) == len(want), f"{len(got)} outputs from onnxruntime, {len(want)} from autocompyute"
    for g, w in zip(got, want):
        w = w.numpy() if isinstance(w, ac.Tensor) else np.asarray(w)
        assert g.shape == w.shape, f"shape {g.shape} from onnxruntime, {w.shape} from autocompyute"
        assert g.dtype == w.dtype, f"dtype {g.dtype} from onnxruntime, {w.dtype} from autocompyute"
        if w.dtype.kind == "f":
            np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL)
        else:
            np.testing.assert_array_equal(g, w)


exportable = [c for c in CASES if c.name not in EXPORT_EXEMPT]


@pytest.mark.parametrize("opset", [MIN_OPSET, 18, MAX_OPSET])
@pytest.mark.parametrize("case", exportable, ids=[c.name for c in exportable])
def test_op_export(case, opset):
    arrays = _f32(case.arrays())
    try:
        model = export_onnx(case.fn, tuple(arrays), opset=opset, dynamic_batch=False)
    except ExportError as e:  # an op whose ONNX form arrived later than `opset` says so
        needed = re.search(r"needs opset >= (\d+)", str(e))
        assert needed and int(needed.group(1)) > opset, str(e)
        return
    want = as_list(case.fn(*[ac.tensor(a) for a in arrays]))
    used = [i.name for i in model.graph.input]
    feeds = [a for a, i in zip(arrays, _input_names(len(arrays))) if i in used]
    assert_matches(run_ort(model, feeds), want)


def _input_names(n):
    return ["input"] if n == 1 else [f"input_{i}" for i in range(n)]


def _resize_batch(arrays, b):
    """The inputs at batch size b: rows cycled along dim 0 of every input that shares the first one's dim 0."""
    n = arrays[0].shape[0]
    return [a[np.arange(b) % n] if a.ndim and a.shape[0] == n else a for a in arrays]


batchable = [c for c in exportable if c.name not in DYNAMIC_EXEMPT and c.arrays()[0].ndim >= 1]


@pytest.mark.parametrize("case", batchable, ids=[c.name for c in batchable])
def test_op_export_symbolic_batch(case):
    """One export, run at batch 1, 3 and 8: no reshape, expand or constant bakes the example's batch in."""
    arrays = _f32(case.arrays())
    ran = 0
    for b in (1, 3, 8):
        try:
            want = as_list(case.fn(*[ac.tensor(a) for a in _resize_batch(arrays, b)]))
        except Exception:
            continue  # the function itself needs particular sizes (x[1] of a batch of 1, ...)
        if ran == 0:
            try:
                model = export_onnx(case.fn, tuple(arrays))
            except ExportError as e:
                if "does not run with a batch" in str(e):
                    pytest.skip("the case's function fixes its batch size")
                raise
            used = [i.name for i in model.graph.input]
        feeds = [a for a, i in zip(_resize_batch(arrays, b), _input_names(len(arrays))) if i in used]
        assert_matches(run_ort(model, feeds), want)
        ran += 1
    if not ran:
        pytest.skip("the case's function runs at its example's batch size only")


def test_every_op_has_an_export_rule():
    load_rules()
    missing = [op.__name__ for op in all_ops() if op not in EXPORT_RULES]
    assert not missing, f"Ops without an ONNX export rule: {missing}"


def test_exempt_cases_exist():
    names = {c.name for c in CASES}
    assert set(EXPORT_EXEMPT) <= names and set(DYNAMIC_EXEMPT) <= names


# ---- opsets ----
def _relu_model(opset):
    from onnx import TensorProto, helper
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=10)


def test_default_opset_is_the_newest_onnxruntime_runs():
    ort.InferenceSession(_relu_model(MAX_OPSET).SerializeToString(), providers=["CPUExecutionProvider"])
    with pytest.raises(Exception):
        ort.InferenceSession(_relu_model(MAX_OPSET + 1).SerializeToString(), providers=["CPUExecutionProvider"])
    m = export_onnx(lambda x: x.relu(), np.ones((2, 3), np.float32))
    assert [o.version for o in m.opset_import if o.domain == ""] == [MAX_OPSET]


@pytest.mark.parametrize("opset", [MIN_OPSET - 1, MAX_OPSET + 1, 7])
def test_opset_out_of_range_is_a_clear_error(opset):
    with pytest.raises(ExportError, match=f"opset {opset} is not supported"):
        export_onnx(lambda x: x.relu(), np.ones((2, 3), np.float32), opset=opset)


# ---- modules: names, modes, files ----
class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(ac.randn(4, 3))
        self.register_buffer("scale", ac.ones(3) * 2)

    def forward(self, x):
        return (x @ self.w).tanh() * self.scale


def test_parameters_and_buffers_are_named_initializers(tmp_path):
    net = _Net()
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    model = export_onnx(net, x, tmp_path / "net.onnx", input_names=["features"], output_names=["scores"])
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    np.testing.assert_array_equal(inits["w"], net.w.numpy())
    np.testing.assert_array_equal(inits["scale"], net.scale.numpy())
    assert [i.name for i in model.graph.input] == ["features"]
    assert [o.name for o in model.graph.output] == ["scores"]
    loaded = onnx.load(tmp_path / "net.onnx")
    assert_matches(run_ort(loaded, [x]), [net(ac.tensor(x))])


def test_external_data(tmp_path):
    net = _Net()
    x = np.ones((2, 4), np.float32)
    export_onnx(net, x, tmp_path / "net.onnx", external_data=True)
    assert (tmp_path / "net.onnx.data").exists()
    loaded = onnx.load(tmp_path / "net.onnx")
    assert_matches(run_ort(loaded, [x]), [net(ac.tensor(x))])


def test_batch_dim_is_symbolic_in_the_graph():
    model = export_onnx(_Net(), np.ones((2, 4), np.float32))
    in_dims = model.graph.input[0].type.tensor_type.shape.dim
    out_dims = model.graph.output[0].type.tensor_type.shape.dim
    assert in_dims[0].dim_param == "batch" and in_dims[1].dim_value == 4
    assert out_dims[0].dim_param == "batch" and out_dims[1].dim_value == 3


def test_static_batch_keeps_the_example_shape():
    model = export_onnx(_Net(), np.ones((2, 4), np.float32), dynamic_batch=False)
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 2


def test_value_that_follows_the_batch_size():
    """x.sum(0) / x.shape[0] bakes no batch size: the divisor is read from the input's shape at run time."""
    def fn(x):
        return x.sum(0) / x.shape[0] + ac.zeros(x.shape[0], 1).sum(0)
    model = export_onnx(fn, np.ones((4, 3), np.float32))
    for b in (1, 3, 8):
        x = np.random.default_rng(b).standard_normal((b, 3)).astype(np.float32)
        assert_matches(run_ort(model, [x]), [fn(ac.tensor(x))])


def test_model_that_fixes_its_batch_size_is_a_clear_error():
    with pytest.raises(ExportError, match="dynamic_batch=False"):
        export_onnx(lambda x: x.reshape(4, 3) + 1, np.ones((4, 3), np.float32))


def test_module_mode_is_restored():
    net = _Net()
    net.train()
    export_onnx(net, np.ones((2, 4), np.float32))
    assert net.training
    net.eval()
    export_onnx(net, np.ones((2, 4), np.float32), training=True)
    assert not net.training


def test_several_inputs_and_outputs_and_an_input_as_output():
    def fn(a, b):
        s = a + b
        return s, s * 2, a
    a, b = np.ones((2, 3), np.float32), np.full((2, 3), 2.0, np.float32)
    model = export_onnx(fn, (a, b), output_names=["s", "twice"])
    assert [o.name for o in model.graph.output] == ["s", "twice", "output_2"]
    assert_matches(run_ort(model, [a, b]), list(fn(ac.tensor(a), ac.tensor(b))))


# ---- small models built from nn layers: symbolic batch at 1, 3, 8; modes ----
def _check_batches(model, example, make, batches=(1, 3, 8)):
    """Export once on `example`, then compare onnxruntime with our eval forward at each batch size."""
    proto = export_onnx(model, example)
    model.eval()
    for b in batches:
        x = make(b)
        want = as_list(model(*[ac.tensor(a) for a in x]))
        assert_matches(run_ort(proto, x), want)
    return proto


class _SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Dropout(0.3), nn.Flatten(), nn.Linear(4 * 4 * 4, 5))

    def forward(self, x):  # (B, 1, 8, 8) -> (B, 5)
        return self.body(x)


def _cnn_input(b):
    return [np.random.default_rng(b).standard_normal((b, 1, 8, 8)).astype(np.float32)]


def test_cnn_with_batchnorm_and_dropout_symbolic_batch():
    net = _SmallCNN()
    net.train()
    for _ in range(2):  # move the running statistics away from their initial values
        net(ac.tensor(_cnn_input(6)[0]))
    proto = _check_batches(net, tuple(_cnn_input(2)), _cnn_input)
    ops = [n.op_type for n in proto.graph.node]
    assert "BatchNormalization" in ops and "Dropout" not in ops
    assert net.training is False  # _check_batches put it in eval for the comparison


def test_training_mode_keeps_batchnorm_statistics_and_dropout():
    net = _SmallCNN()
    before = net.body[1].running_mean.numpy().copy()
    proto = export_onnx(net, _cnn_input(4)[0], training=True)
    bn = [n for n in proto.graph.node if n.op_type == "BatchNormalization"]
    assert len(bn) == 1 and onnx.helper.get_attribute_value(bn[0].attribute[-1]) in (0, 1)
    assert {a.name: onnx.helper.get_attribute_value(a) for a in bn[0].attribute}["training_mode"] == 1
    assert any(n.op_type == "Dropout" for n in proto.graph.node)
    np.testing.assert_array_equal(net.body[1].running_mean.numpy(), before)  # the trace changed no buffer
    assert net.training
    onnx.checker.check_model(proto, full_check=True)
    # with the dropout at p=0 the outputs are deterministic and must match our training-mode forward.
    # onnxruntime's graph optimizations fold Conv + BatchNormalization as if in inference even when
    # training_mode=1 (measured with 1.32.0: errors of about 1), so this runs it unoptimized.
    net.body[4].p = 0.0
    proto = export_onnx(net, _cnn_input(4)[0], training=True)
    for b in (3, 5):
        x = _cnn_input(b)[0]
        assert_matches(run_ort(proto, [x], optimize=False), [net(ac.tensor(x))])
    with pytest.raises(ExportError, match="needs opset >= 14"):
        export_onnx(net, _cnn_input(4)[0], training=True, opset=13)


class _Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(6, 8, num_layers=2, batch_first=True)
        self.head = nn.Linear(8, 3)

    def forward(self, x):  # (B, T, 6) -> (B, 3)
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def test_lstm_symbolic_batch():
    def make(b):
        return [np.random.default_rng(b).standard_normal((b, 5, 6)).astype(np.float32)]
    _check_batches(_Seq(), tuple(make(2)), make)


class _SeqWithState(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(6, 8, batch_first=True)

    def forward(self, x, h, c):  # (B, T, 6), (1, B, 8) twice -> (B, T, 8)
        return self.lstm(x, (h, c))[0]


def test_rnn_zero_initial_states_are_left_out():
    """Zeros are ONNX's default initial state: the LSTM node leaves them out instead of building them from the
    batch size, and no node is left whose outputs nothing reads. Given states stay inputs of the node."""
    x = np.random.default_rng(0).standard_normal((2, 5, 6)).astype(np.float32)
    graph = export_onnx(_Seq(), x).graph
    assert not {"Shape", "ConstantOfShape"} & {n.op_type for n in graph.node}
    assert [len(n.input) for n in graph.node if n.op_type == "LSTM"] == [4, 4]   # x, W, R, B
    read = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
    assert all(any(o in read for o in n.output) for n in graph.node)
    h, c = np.random.default_rng(1).standard_normal((2, 1, 2, 8)).astype(np.float32)
    model = _SeqWithState()
    proto = export_onnx(model, (x, h, c), dynamic_batch=False)  # the states batch on axis 1
    assert [len(n.input) for n in proto.graph.node if n.op_type == "LSTM"] == [7]
    assert_matches(run_ort(proto, [x, h, c]), [model(ac.tensor(x), ac.tensor(h), ac.tensor(c))])


class _TinyGPT(nn.Module):
    """Embedding, LayerNorm, causal single-head attention from matmuls, GELU MLP, tied to reshapes."""

    def __init__(self, vocab=11, d=8, heads=2):
        super().__init__()
        self.heads = heads
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(ac.randn(6, d) * 0.1)
        self.ln = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))
        self.out = nn.Linear(d, vocab)

    def forward(self, idx):  # (B, T) -> (B, T, vocab)
        B, T = idx.shape
        x = self.tok(idx) + self.pos[:T]                                      # (B, T, C)
        C = x.shape[-1]
        q, k, v = self.qkv(self.ln(x)).split(C, dim=-1)
        q, k, v = (t.reshape(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / (C // self.heads) ** 0.5)     # (B, H, T, T)
        mask = ac.triu(ac.ones(T, T), 1) > 0
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + y
        x = x + self.mlp(x)
        return self.out(x)


def test_gpt_like_symbolic_batch():
    def make(b):
        return [np.random.default_rng(b).integers(0, 11, (b, 6)).astype(np.int64)]
    _check_batches(_TinyGPT(), tuple(make(2)), make)


# ---- the model zoo: every model exported once, run at batch 1, 3 and 8 ----
@pytest.mark.parametrize("name", sorted(model_zoo.MODELS))
def test_zoo_model_export_symbolic_batch(name):
    from interop.cli_export import build_zoo_model
    model, inputs = build_zoo_model(name)
    example = [x.numpy() if isinstance(x, ac.Tensor) else np.asarray(x) for x in inputs]
    example = [a.astype(np.float32) if a.dtype == np.float64 else a for a in example]
    _check_batches(model, tuple(example), lambda b: _resize_batch(example, b))


class _PaddedEncoder(nn.Module):
    """Self-attention that takes a boolean key-padding mask (True = padding) and an attention mask as inputs."""

    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x, key_padding_mask, attn_mask):  # (B, T, 8), (B, T), (T, T) -> (B, T, 8)
        return self.attn(x, x, x, key_padding_mask=key_padding_mask, attn_mask=attn_mask, need_weights=False)[0]


def test_boolean_masks_are_graph_inputs_not_the_examples_constants():
    """The exported model must read the masks it is given (at any batch size), not bake in the example's."""
    ac.manual_seed(0)

    def make(b, seed=0):
        rng = np.random.default_rng(b + seed)
        lengths = rng.integers(1, 6, size=b)
        padding = np.arange(6)[None, :] >= lengths[:, None]                    # (B, 6), True past each length
        attn = np.triu(np.ones((6, 6), bool), k=1 + seed % 3)                  # (6, 6), True = not allowed
        return [rng.standard_normal((b, 6, 8)).astype(np.float32), padding, attn]

    model = _PaddedEncoder()
    proto = _check_batches(model, make(2), make)                               # other lengths at each batch size
    other = make(3, seed=1)                                                     # and another attention mask
    assert_matches(run_ort(proto, other), as_list(model(*[ac.tensor(a) for a in other])))
