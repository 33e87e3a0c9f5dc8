"""Models that torch.onnx.export wrote (scripts/make_onnx_fixtures.py; both exporters, several opsets, eval and
training mode), imported: parity with onnxruntime, one fine-tuning step that lowers the loss, round trip."""
import pathlib

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import numpy_helper  # noqa: E402

import autocompyute as ac  # noqa: E402
from gradcheck import as_list  # noqa: E402
from interop import import_onnx  # noqa: E402

FIXTURES = sorted((pathlib.Path(__file__).parent / "fixtures" / "onnx").glob("*.onnx"))
RTOL, ATOL = 1e-4, 1e-5


def test_fixtures_exist_for_both_exporters_and_modes():
    names = [p.stem for p in FIXTURES]
    assert any("_ts_" in n for n in names) and any("_dynamo_" in n for n in names)
    assert any(n.endswith("_training") for n in names)
    assert sum(p.stat().st_size for p in FIXTURES) < 5 << 20
    assert all(p.stat().st_size < 200 << 10 for p in FIXTURES)


def _without_dropout(model):
    """The same model with every Dropout ratio set to 0, so a training-mode export is deterministic."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    ratios = {n.input[1] for n in model.graph.node if n.op_type == "Dropout" and len(n.input) > 1 and n.input[1]}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output[0] in ratios:
            value = numpy_helper.to_array(node.attribute[0].t)
            node.attribute[0].t.CopyFrom(numpy_helper.from_array(np.zeros_like(value)))
    for t in model.graph.initializer:
        if t.name in ratios:
            t.CopyFrom(numpy_helper.from_array(np.zeros_like(numpy_helper.to_array(t)), t.name))
    return model


def _inputs(model, seed=0):
    rng = np.random.default_rng(seed)
    inits = {t.name for t in model.graph.initializer}
    feeds = {}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        shape = [d.dim_value if d.dim_value > 0 else 3 for d in tt.shape.dim]
        if tt.elem_type == onnx.TensorProto.INT64:
            feeds[vi.name] = rng.integers(0, 20, shape).astype(np.int64) if shape else np.array(3, np.int64)
        else:
            feeds[vi.name] = rng.standard_normal(shape).astype(np.float32)
    return feeds


def _load(path):
    model = onnx.load(str(path))
    return _without_dropout(model) if any(n.op_type == "Dropout" for n in model.graph.node) else model


def _ort(model, feeds):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_parity_with_onnxruntime(path):
    model = _load(path)
    feeds = _inputs(model)
    module = import_onnx(model)
    with ac.no_grad():
        ours = as_list(module(**feeds))
    theirs = _ort(model, feeds)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.numpy(), b, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_one_finetuning_step_lowers_the_loss(path):
    model = _load(path)
    feeds = _inputs(model)
    module = import_onnx(model)
    params = list(module.parameters())
    assert params, "a fixture without trainable parameters"
    targets = [np.random.default_rng(1).standard_normal(o.shape).astype(np.float32)
               for o in as_list(module(**feeds))]

    def loss():
        total = None
        for o, t in zip(as_list(module(**feeds)), targets):
            term = ((o - ac.tensor(t)) ** 2).mean()
            total = term if total is None else total + term
        return total

    before = loss()
    module.zero_grad()
    before.backward()
    grads = [p.grad for p in params if p.grad is not None]
    assert grads, "no parameter received a gradient"
    norm = np.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads))
    for p in params:
        if p.grad is not None:
            p.data = p.data - (1e-2 / norm) * p.grad
    with ac.no_grad():
        after = loss()
    assert after.item() < before.item()


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_round_trip_after_changing_the_weights(path):
    model = _load(path)
    feeds = _inputs(model, seed=2)
    module = import_onnx(model)
    rng = np.random.default_rng(3)
    for p in module.parameters():
        p.data = (p.data + 0.01 * rng.standard_normal(p.shape)).astype(p.dtype)
    written = module.to_onnx()
    assert [n.name for n in written.graph.node] == [n.name for n in model.graph.node]
    assert [(o.domain, o.version) for o in written.opset_import] == [(o.domain, o.version) for o in model.opset_import]
    assert written.producer_name == model.producer_name
    with ac.no_grad():
        ours = as_list(module(**feeds))
    for a, b in zip(ours, _ort(written, feeds)):
        np.testing.assert_allclose(a.numpy(), b, rtol=RTOL, atol=ATOL)
