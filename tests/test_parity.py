"""check_parity: both runtimes agree on good exports, and a broken export rule is found at its node."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import autocompyute as ac  # noqa: E402
from autocompyute import nn  # noqa: E402
from autocompyute.ops import unary  # noqa: E402
from interop import ParityReport, check_parity, export_onnx  # noqa: E402
from interop.onnx.registry import EXPORT_RULES, load_rules  # noqa: E402


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(ac.randn(4, 8))
        self.v = nn.Parameter(ac.randn(8, 3))

    def forward(self, x):
        return ((x @ self.w).tanh() @ self.v).softmax(-1)


def _x(batch=5):
    return np.random.default_rng(1).standard_normal((batch, 4)).astype(np.float32)


def test_module_parity_is_ok():
    report = check_parity(_Net(), _x())
    assert isinstance(report, ParityReport)
    assert report.ok and report.first_divergence is None
    assert [o.name for o in report.outputs] == ["output"]
    assert report.outputs[0].max_abs < 1e-5
    assert len(report.values) == 3  # matmul, tanh, matmul: every intermediate value is compared
    assert "parity: OK" in str(report)


@pytest.fixture
def broken_tanh():
    """Export Tanh as Sigmoid, the kind of bug parity exists to find."""
    load_rules()
    good = EXPORT_RULES[unary.Tanh]
    EXPORT_RULES[unary.Tanh] = lambda g, op, inputs: g.add_node("Sigmoid", inputs)
    yield
    EXPORT_RULES[unary.Tanh] = good


def test_first_diverging_node_is_named(broken_tanh):
    report = check_parity(_Net(), _x())
    assert not report.ok
    d = report.first_divergence
    assert d.op_type == "Sigmoid" and d.engine_op == "Tanh"
    assert d.input_shapes == [(5, 8)] and d.shape == (5, 8)
    assert d.max_abs > 0.1
    text = str(report)
    assert "MISMATCH" in text and d.node in text and "Sigmoid" in text


def test_onnx_file_through_the_importer(tmp_path):
    net = _Net()
    export_onnx(net, _x(), tmp_path / "net.onnx")
    for model in (tmp_path / "net.onnx", str(tmp_path / "net.onnx"), onnx.load(tmp_path / "net.onnx"),
                  (tmp_path / "net.onnx").read_bytes()):
        report = check_parity(model)  # random inputs; the symbolic batch gets size 2
        assert report.ok, str(report)
        assert report.outputs[0].shape == (2, 3)


def test_given_inputs_are_used(tmp_path):
    net = _Net()
    model = export_onnx(net, _x())
    x = _x(7)
    report = check_parity(model, {"input": x})
    assert report.ok and report.outputs[0].shape == (7, 3)
    report = check_parity(model, [x])
    assert report.ok and report.outputs[0].shape == (7, 3)


def test_tolerances_are_applied():
    """A tolerance of zero everywhere flags float32 rounding differences; a loose one accepts them."""
    def fn(x):
        return (x.exp() * 3.3).sum(-1).log()
    x = np.random.default_rng(0).standard_normal((64, 300)).astype(np.float32)
    loose = check_parity(fn, x, rtol=1e-3, atol=1e-3)
    assert loose.ok
    strict = check_parity(fn, x, rtol=0.0, atol=0.0)
    assert strict.ok == (strict.outputs[0].max_abs == 0.0)
    tight = check_parity(fn, x, rtol=0.0, atol=loose.outputs[0].max_abs / 2)
    assert loose.outputs[0].max_abs == 0.0 or not tight.ok


def test_parity_reads_external_data_through_the_safe_loader(tmp_path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from interop import check_parity
    from interop.errors import AutoCompyuteError

    w = numpy_helper.from_array(np.random.default_rng(0).random((64, 64)).astype(np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 64])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    path = tmp_path / "m.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, location="m.data", size_threshold=0)
    assert check_parity(str(path)).ok
    # a location that leaves the model's folder is refused, not followed
    proto = onnx.load(str(path), load_external_data=False)
    for entry in proto.graph.initializer[0].external_data:
        if entry.key == "location":
            entry.value = "../m.data"
    onnx.save_model(proto, str(tmp_path / "evil.onnx"))
    with pytest.raises(AutoCompyuteError):
        check_parity(str(tmp_path / "evil.onnx"))


def test_parity_inlines_external_data_of_subgraphs_and_attributes(tmp_path):
    """Tensors stored externally inside an If branch (an initializer) and in a Constant node's attribute reach
    onnxruntime inline: it gets the model as bytes, with no folder to find the data file in."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from interop import check_parity

    rng = np.random.default_rng(0)
    vi = helper.make_tensor_value_info
    branch_w = numpy_helper.from_array(rng.random((32, 32)).astype(np.float32), "bw")
    then = helper.make_graph([helper.make_node("MatMul", ["x", "bw"], ["o"])], "then", [],
                             [vi("o", TensorProto.FLOAT, [2, 32])], [branch_w])
    other = helper.make_graph([helper.make_node("Neg", ["x"], ["o"])], "else", [],
                              [vi("o", TensorProto.FLOAT, [2, 32])])
    shift = numpy_helper.from_array(rng.random((32,)).astype(np.float32), "shift_value")
    nodes = [helper.make_node("Constant", [], ["shift"], value=shift),
             helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
             helper.make_node("Greater", ["s", "zero"], ["c"]),
             helper.make_node("If", ["c"], ["b"], then_branch=then, else_branch=other),
             helper.make_node("Add", ["b", "shift"], ["y"])]
    graph = helper.make_graph(nodes, "g", [vi("x", TensorProto.FLOAT, [2, 32])], [vi("y", TensorProto.FLOAT, [2, 32])],
                              [numpy_helper.from_array(np.float32(-1e9), "zero")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    path = tmp_path / "m.onnx"
    onnx.external_data_helper.convert_model_to_external_data(model, location="m.data", size_threshold=0,
                                                             convert_attribute=True)
    onnx.save_model(model, str(path))
    stored = onnx.load(str(path), load_external_data=False)
    then_stored = next(a.g for a in stored.graph.node[3].attribute if a.name == "then_branch")
    assert then_stored.initializer[0].data_location == TensorProto.EXTERNAL
    assert stored.graph.node[0].attribute[0].t.data_location == TensorProto.EXTERNAL
    assert check_parity(str(path), {"x": rng.random((2, 32)).astype(np.float32)}).ok


def test_parity_errors_are_typed():
    """What check_parity cannot compare is a ParityError: a non-model argument, a module without inputs, too
    few inputs, an input of no tensor type, a model onnxruntime refuses (its message kept)."""
    from onnx import TensorProto, helper

    from interop import check_parity
    from interop.errors import ParityError

    vi = helper.make_tensor_value_info
    two_inputs = helper.make_model(helper.make_graph([helper.make_node("Add", ["a", "b"], ["y"])], "g",
                                                     [vi("a", TensorProto.FLOAT, [2]), vi("b", TensorProto.FLOAT, [2])],
                                                     [vi("y", TensorProto.FLOAT, [2])]),
                                   opset_imports=[helper.make_opsetid("", 18)])
    with pytest.raises(ParityError, match="got int"):
        check_parity(42)
    with pytest.raises(ParityError, match="needs example inputs"):
        check_parity(lambda x: x)
    with pytest.raises(ParityError, match=r"takes inputs \['a', 'b'\], got 1"):
        check_parity(two_inputs, [np.ones(2, np.float32)])
    untyped = helper.make_model(helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                                                  [helper.make_empty_tensor_value_info("x")],
                                                  [vi("y", TensorProto.FLOAT, [2])]),
                                opset_imports=[helper.make_opsetid("", 18)])
    with pytest.raises(ParityError, match="no tensor type"):
        check_parity(untyped)
    # onnxruntime's own exceptions come back as ParityError (a graph that writes one value twice)
    from interop import parity
    twice = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"]),
                                                 helper.make_node("Neg", ["x"], ["y"])], "g",
                                                [vi("x", TensorProto.FLOAT, [2])], [vi("y", TensorProto.FLOAT, [2])]),
                              opset_imports=[helper.make_opsetid("", 18)])
    with pytest.raises(ParityError, match="onnxruntime cannot run the model"):
        parity._run_ort(twice, {"x": np.ones(2, np.float32)}, ["y"])
