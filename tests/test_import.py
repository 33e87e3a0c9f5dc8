"""interop.import_onnx on graphs built with onnx.helper: parameters, freezing, inputs, outputs, train/eval,
old-opset initializers-as-inputs, model-local functions, control flow with gradients, rule versions."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import autocompyute as ac  # noqa: E402
from interop import OnnxModule, import_onnx  # noqa: E402
from interop.errors import OnnxImportError  # noqa: E402
from interop.onnx.registry import IMPORT_RULES, find_import_rule, import_rule  # noqa: E402
from onnx_graphs import onnx_model, vi  # noqa: E402

rng = np.random.default_rng(0)


def _mlp(opset=17):
    w = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "layer.0/weight:0"], ["h"]),
             helper.make_node("Add", ["h", "layer.0 bias"], ["y"]),
             helper.make_node("Relu", ["y"], ["r"]),
             helper.make_node("Shape", ["x"], ["s"])]
    inits = [numpy_helper.from_array(w, "layer.0/weight:0"), numpy_helper.from_array(b, "layer.0 bias")]
    return onnx_model(nodes, [vi("x", ["N", 4])], [vi("r"), vi("s", None, TensorProto.INT64)], inits, opset)


def test_float_initializers_are_parameters_under_their_onnx_names():
    m = import_onnx(_mlp())
    assert isinstance(m, OnnxModule)
    assert [n for n, _ in m.named_parameters()] == ["layer.0/weight:0", "layer.0 bias"]
    assert all(p.requires_grad for p in m.parameters())
    assert list(m.state_dict()) == ["layer.0/weight:0", "layer.0 bias"]


def test_accepts_path_bytes_and_proto(tmp_path):
    model = _mlp()
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    x = rng.standard_normal((2, 4)).astype(np.float32)
    outs = [import_onnx(src)(x)[0].numpy() for src in (model, model.SerializeToString(), str(path), path)]
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])


def test_call_by_position_or_name_and_tuple_outputs():
    model = _mlp()
    m = import_onnx(model)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    r, s = m(x)
    r2, _ = m(x=ac.tensor(x))
    np.testing.assert_array_equal(r.numpy(), r2.numpy())
    assert s.tolist() == [5, 4] and s.dtype == np.int64
    ref = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})
    np.testing.assert_allclose(r.numpy(), ref[0], rtol=1e-6)
    with pytest.raises(OnnxImportError, match="missing model inputs"):
        m()
    with pytest.raises(OnnxImportError, match="no input 'z'"):
        m(x, z=x)


def test_gradients_reach_parameters_and_freezing():
    m = import_onnx(_mlp())
    x = rng.standard_normal((5, 4)).astype(np.float32)
    m(x)[0].sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad()
    m.freeze("layer.0 bias")
    m(x)[0].sum().backward()
    assert m._parameters["layer.0 bias"].grad is None and m._parameters["layer.0/weight:0"].grad is not None
    m.unfreeze()
    m.freeze(lambda name: "weight" in name)
    assert [p.requires_grad for p in m.parameters()] == [False, True]
    with pytest.raises(KeyError):
        m.freeze(["nope"])


def test_integer_initializers_and_constant_nodes_stay_constants():
    nodes = [helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(np.float32([2.0]))),
             helper.make_node("Mul", ["x", "c"], ["y"]),
             helper.make_node("Reshape", ["y", "shape"], ["z"])]
    inits = [numpy_helper.from_array(np.int64([-1]), "shape")]
    m = import_onnx(onnx_model(nodes, [vi("x", [2, 3])], [vi("z")], inits))
    assert list(m.parameters()) == []
    assert m(np.ones((2, 3), np.float32)).tolist() == [2.0] * 6


def _bn_model(training_mode=None, opset=15):
    c = 3
    attrs = {"momentum": 0.8}
    if training_mode is not None:
        attrs["training_mode"] = training_mode
    outputs = ["y"] + (["rm", "rv"] if training_mode else [])
    nodes = [helper.make_node("BatchNormalization", ["x", "s", "b", "mean", "var"], outputs, **attrs),
             helper.make_node("Dropout", ["y"], ["d"])]
    inits = [numpy_helper.from_array(a.astype(np.float32), n) for a, n in
             ((rng.uniform(0.5, 1.5, c), "s"), (rng.standard_normal(c), "b"), (rng.standard_normal(c), "mean"),
              (rng.uniform(0.5, 2, c), "var"))]
    return onnx_model(nodes, [vi("x", [4, c, 5])], [vi("d")], inits, opset)


def test_batchnorm_running_stats_are_buffers_and_train_eval_semantics():
    model = _bn_model()
    m = import_onnx(model)
    assert not m.training  # eval is the default after import
    assert [n for n, _ in m.named_parameters()] == ["s", "b"]
    assert sorted(n for n, _ in m.named_buffers()) == ["mean", "var"]
    x = rng.standard_normal((4, 3, 5)).astype(np.float32) * 3 + 1
    np.testing.assert_allclose(m(x).numpy(), ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0],
                               rtol=1e-5, atol=1e-6)
    mean0, var0 = m._buffers["mean"].numpy().copy(), m._buffers["var"].numpy().copy()
    m.train()
    ac.manual_seed(0)
    y = m(x).numpy()
    # running = running * momentum + batch * (1 - momentum), ONNX's convention (biased batch variance)
    np.testing.assert_allclose(m._buffers["mean"].numpy(), mean0 * 0.8 + x.mean(axis=(0, 2)) * 0.2, rtol=1e-5)
    np.testing.assert_allclose(m._buffers["var"].numpy(), var0 * 0.8 + x.var(axis=(0, 2)) * 0.2, rtol=1e-5)
    # Dropout (ratio 0.5) drops about half, and scales the rest by 2
    assert 0.3 < (y == 0).mean() < 0.7
    m.eval()
    before = m._buffers["mean"].numpy().copy()
    m(x)
    np.testing.assert_array_equal(m._buffers["mean"].numpy(), before)
    # the round trip writes the updated statistics
    written = {t.name: numpy_helper.to_array(t) for t in m.to_onnx().graph.initializer}
    np.testing.assert_array_equal(written["mean"], before)


def test_nodes_exported_in_training_mode_use_batch_statistics():
    model = _bn_model(training_mode=1)
    m = import_onnx(model)
    x = rng.standard_normal((4, 3, 5)).astype(np.float32) * 3 + 1
    y = m(x).numpy()
    s = numpy_helper.to_array(model.graph.initializer[0])
    b = numpy_helper.to_array(model.graph.initializer[1])
    xhat = (x - x.mean(axis=(0, 2), keepdims=True)) / np.sqrt(x.var(axis=(0, 2), keepdims=True) + 1e-5)
    np.testing.assert_allclose(y, xhat * s[None, :, None] + b[None, :, None], rtol=1e-4, atol=1e-5)


def test_dropout_with_training_mode_input_drops_even_in_eval():
    nodes = [helper.make_node("Dropout", ["x", "ratio", "train"], ["y"])]
    inits = [numpy_helper.from_array(np.float32(0.5), "ratio"), numpy_helper.from_array(np.bool_(True), "train")]
    m = import_onnx(onnx_model(nodes, [vi("x", [100])], [vi("y")], inits))
    y = m(np.ones(100, np.float32)).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0} and 20 < (y == 0).sum() < 80


def test_initializers_listed_as_graph_inputs_are_defaults():
    w = rng.standard_normal((3, 3)).astype(np.float32)
    nodes = [helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)]
    model = onnx_model(nodes, [vi("x", [2, 3]), vi("w", [3, 3])], [vi("y")], [numpy_helper.from_array(w, "w")],
                   opset=8, ir_version=3)
    m = import_onnx(model)
    assert m.input_names == ["x"] and [n for n, _ in m.named_parameters()] == ["w"]
    x = rng.standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_allclose(m(x).numpy(), x @ w.T, rtol=1e-6)
    np.testing.assert_allclose(m(x, w=np.eye(3, dtype=np.float32)).numpy(), x, rtol=1e-6)


def test_model_local_functions_run_with_attributes():
    leaky = helper.make_node("LeakyRelu", ["t"], ["b"])
    leaky.attribute.append(helper.make_attribute_ref("alpha", onnx.AttributeProto.FLOAT))
    fn = helper.make_function("local", "ScaledTanh", ["a"], ["b"], [helper.make_node("Tanh", ["a"], ["t"]), leaky],
                              [helper.make_opsetid("", 17)], attributes=["alpha"])
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]),
             helper.make_node("ScaledTanh", ["h"], ["y"], domain="local", alpha=0.3)]
    w = rng.standard_normal((3, 3)).astype(np.float32)
    graph = helper.make_graph(nodes, "g", [vi("x", [2, 3])], [vi("y")], [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, functions=[fn], opset_imports=[helper.make_opsetid("", 17),
                                                                     helper.make_opsetid("local", 1)])
    m = import_onnx(model)
    x = rng.standard_normal((2, 3)).astype(np.float32)
    y = m(x)
    t = np.tanh(x @ w)
    np.testing.assert_allclose(y.numpy(), np.where(t > 0, t, 0.3 * t), rtol=1e-6)
    np.testing.assert_allclose(y.numpy(), ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0],
                               rtol=1e-6)
    y.sum().backward()
    assert m._parameters["w"].grad is not None


def test_if_runs_the_branch_taken_and_gradients_flow():
    then_g = helper.make_graph([helper.make_node("Mul", ["x", "w"], ["o"])], "then", [], [vi("o")])
    else_g = helper.make_graph([helper.make_node("Sub", ["x", "w"], ["o"])], "else", [], [vi("o")])
    nodes = [helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
             helper.make_node("Greater", ["s", "zero"], ["c"]),
             helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)]
    w = np.float32([1.5, -2.0, 0.5])
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.float32(0), "zero")]
    m = import_onnx(onnx_model(nodes, [vi("x", [3])], [vi("y")], inits, opset=13))
    assert [n for n, _ in m.named_parameters()] == ["w", "zero"]
    x = np.float32([1.0, 2.0, 3.0])
    y = m(x)
    np.testing.assert_allclose(y.numpy(), x * w)
    y.sum().backward()
    np.testing.assert_allclose(m._parameters["w"].grad, x)
    m.zero_grad()
    y = m(-x)
    np.testing.assert_allclose(y.numpy(), -x - w)
    y.sum().backward()
    np.testing.assert_allclose(m._parameters["w"].grad, -np.ones(3))


def test_loop_iterates_with_carried_values_scan_outputs_and_gradients():
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Mul", ["v_in", "w"], ["v_out"]),
         helper.make_node("Identity", ["v_out"], ["scan"])],
        "body", [vi("i", [], TensorProto.INT64), vi("cond_in", [], TensorProto.BOOL), vi("v_in", [2])],
        [vi("cond_out", [], TensorProto.BOOL), vi("v_out", [2]), vi("scan", [2])])
    nodes = [helper.make_node("Loop", ["n", "", "x"], ["y", "ys"], body=body)]
    w = np.float32([0.5, 2.0])
    model = onnx_model(nodes, [vi("x", [2]), vi("n", [], TensorProto.INT64)], [vi("y"), vi("ys")],
                   [numpy_helper.from_array(w, "w")], opset=13)
    m = import_onnx(model)
    x = np.float32([1.0, 3.0])
    y, ys = m(x, np.int64(3))
    np.testing.assert_allclose(y.numpy(), x * w ** 3)
    assert ys.shape == (3, 2)
    ref = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x, "n": np.array(3, np.int64)})
    np.testing.assert_allclose(ys.numpy(), ref[1], rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(m._parameters["w"].grad, 3 * w ** 2 * x, rtol=1e-6)


def test_opset_picks_the_newest_rule_at_or_below():
    calls = []
    for since in (3, 9):
        import_rule("ProbeOp", since=since, domain="test.probe")(
            lambda x, _s=since: calls.append(_s) or x)
    try:
        assert find_import_rule("test.probe", "ProbeOp", 2) is None
        for opset, expect in ((3, 3), (8, 3), (9, 9), (20, 9)):
            node = helper.make_node("ProbeOp", ["x"], ["y"], domain="test.probe")
            graph = helper.make_graph([node], "g", [vi("x", [1])], [vi("y")])
            model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                            helper.make_opsetid("test.probe", opset)])
            import_onnx(model)(np.ones(1, np.float32))
            assert calls[-1] == expect
    finally:
        IMPORT_RULES.pop(("test.probe", "ProbeOp"))


def test_softmax_before_opset_13_coerces_to_2d():
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    for opset in (11, 13):
        model = onnx_model([helper.make_node("Softmax", ["x"], ["y"], axis=1)], [vi("x", [2, 3, 4])], [vi("y")],
                       opset=opset)
        ref = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
        np.testing.assert_allclose(import_onnx(model)(x).numpy(), ref, rtol=1e-5, atol=1e-6)


def test_to_onnx_keeps_nodes_names_opset_and_metadata(tmp_path):
    model = _mlp()
    model.producer_name, model.producer_version = "probe", "1.2"
    onnx.helper.set_model_props(model, {"author": "someone"})
    m = import_onnx(model)
    m._parameters["layer.0 bias"].data = np.zeros(3, np.float32)
    path = tmp_path / "out.onnx"
    written = m.to_onnx(path)
    again = onnx.load(str(path))
    for out in (written, again):
        assert [(n.op_type, n.name, list(n.input)) for n in out.graph.node] == \
            [(n.op_type, n.name, list(n.input)) for n in model.graph.node]
        assert out.producer_name == "probe" and out.metadata_props[0].value == "someone"
        assert out.opset_import[0].version == 17
        np.testing.assert_array_equal(numpy_helper.to_array(out.graph.initializer[1]), np.zeros(3))
    import interop
    exported = interop.export_onnx(m, ())
    assert [n.name for n in exported.graph.node] == [n.name for n in model.graph.node]


def test_weights_inside_subgraphs_are_parameters_that_train_and_are_written_back():
    """Float initializers of If branches and Loop bodies: Parameters under their ONNX names, with gradients from
    the iterations or branch taken, and to_onnx writes their trained values into the subgraphs."""
    then_g = helper.make_graph([helper.make_node("MatMul", ["x", "w_then"], ["o"])], "then", [], [vi("o")],
                               [numpy_helper.from_array(rng.standard_normal((3, 3)).astype(np.float32), "w_then")])
    else_g = helper.make_graph([helper.make_node("Add", ["x", "b_else"], ["o"])], "else", [], [vi("o")],
                               [numpy_helper.from_array(np.float32([1, 2, 3]), "b_else")])
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Mul", ["v_in", "s_body"], ["v_out"])],
        "body", [vi("i", [], TensorProto.INT64), vi("cond_in", [], TensorProto.BOOL), vi("v_in", ["N", 3])],
        [vi("cond_out", [], TensorProto.BOOL), vi("v_out", ["N", 3])],
        [numpy_helper.from_array(np.float32([0.5, 1.5, -1.0]), "s_body")])
    nodes = [helper.make_node("If", ["c"], ["h"], then_branch=then_g, else_branch=else_g),
             helper.make_node("Loop", ["n", "", "h"], ["y"], body=body)]
    model = onnx_model(nodes, [vi("x", ["N", 3]), vi("c", [], TensorProto.BOOL), vi("n", [], TensorProto.INT64)],
                   [vi("y")], opset=13)
    m = import_onnx(model)
    assert sorted(n for n, _ in m.named_parameters()) == ["b_else", "s_body", "w_then"]
    x, two = rng.standard_normal((4, 3)).astype(np.float32), np.int64(2)                 # two loop iterations
    feeds = {"x": x, "c": np.array(True), "n": np.array(2, np.int64)}
    ref = ort.InferenceSession(model.SerializeToString()).run(None, feeds)[0]
    np.testing.assert_allclose(m(x, np.array(True), two).numpy(), ref, rtol=1e-5, atol=1e-6)

    opt = ac.optim.SGD(m.parameters(), lr=0.1)
    loss = (m(x, np.array(True), two) ** 2).mean()
    loss.backward()
    p = dict(m.named_parameters())
    assert p["w_then"].grad is not None and p["s_body"].grad is not None and p["b_else"].grad is None
    before = {n: t.numpy().copy() for n, t in p.items()}
    opt.step()
    assert not np.allclose(p["w_then"].numpy(), before["w_then"]) and np.array_equal(p["b_else"].numpy(),
                                                                                       before["b_else"])
    assert (m(x, np.array(True), two) ** 2).mean().item() < loss.item()

    tuned = m.to_onnx()
    for c in (True, False):
        feeds["c"] = np.array(c)
        got = ort.InferenceSession(tuned.SerializeToString()).run(None, feeds)[0]
        np.testing.assert_allclose(got, m(x, np.array(c), two).numpy(), rtol=1e-5, atol=1e-6)
    again = import_onnx(tuned)
    for n, t in again.named_parameters():
        np.testing.assert_array_equal(t.numpy(), p[n].numpy())
    assert {"w_then", "b_else", "s_body"} <= set(m.state_dict())


def test_a_subgraph_initializer_reusing_an_outer_name_keeps_its_own_value():
    """ONNX names are unique across subgraphs; a file that breaks that rule must not read the outer Parameter."""
    inner = np.float32([10, 20, 30])
    then_g = helper.make_graph([helper.make_node("Mul", ["x", "w"], ["o"])], "then", [], [vi("o")],
                               [numpy_helper.from_array(inner, "w")])
    else_g = helper.make_graph([helper.make_node("Identity", ["x"], ["o"])], "else", [], [vi("o")])
    nodes = [helper.make_node("Add", ["x0", "w"], ["x"]),
             helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)]
    outer = np.float32([1, 2, 3])
    m = import_onnx(onnx_model(nodes, [vi("x0", [3]), vi("c", [], TensorProto.BOOL)], [vi("y")],
                           [numpy_helper.from_array(outer, "w")], opset=13))
    assert [n for n, _ in m.named_parameters()] == ["w"]
    x0 = np.float32([1, 1, 1])
    np.testing.assert_allclose(m(x0, np.array(True)).numpy(), (x0 + outer) * inner)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8])
def test_shrink_and_reduce_log_sum_keep_an_integer_dtype_like_onnxruntime(dtype):
    """onnxruntime computes in floating point and truncates back to the input's integer type."""
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    x = np.array([[3, 1, 0], [1, 2, 5]], dtype)
    shrink = onnx_model([helper.make_node("Shrink", ["x"], ["y"], lambd=1.0, bias=0.5)], [vi("x", [2, 3], elem)],
                        [vi("y", None, elem)], opset=13)
    log_sum = onnx_model([helper.make_node("ReduceLogSum", ["x"], ["y"])], [vi("x", [2, 3], elem)],
                         [vi("y", None, elem)], opset=18)
    for model in (shrink, log_sum) if dtype != np.uint8 else (shrink,):  # (ReduceLogSum: 32- and 64-bit ints)
        got = import_onnx(model)(x).numpy()
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0])


@pytest.mark.parametrize("node,inputs", [
    (helper.make_node("ReduceSum", ["x"], ["y"], keepdims=2), [vi("x", [2, 3])]),
    (helper.make_node("ArgMax", ["x"], ["y"], keepdims=2), [vi("x", [2, 3])]),
    (helper.make_node("Reshape", ["x", "s"], ["y"], allowzero=2), [vi("x", [2, 3]), vi("s", [2], TensorProto.INT64)]),
    (helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[2], ceil_mode=3), [vi("x", [1, 1, 5])]),
    (helper.make_node("Gemm", ["x", "x"], ["y"], transA=2), [vi("x", [3, 3])]),
    (helper.make_node("ReduceL2", ["x", "a"], ["y"], noop_with_empty_axes=2),
     [vi("x", [2, 3]), vi("a", [0], TensorProto.INT64)]),
], ids=["keepdims", "argmax-keepdims", "allowzero", "ceil_mode", "transA", "noop_with_empty_axes"])
def test_switch_attributes_other_than_zero_and_one_are_refused(node, inputs):
    """keepdims=2 kept the dims (read as a truth value) where onnxruntime drops them; its Gemm reads transA=2 as
    true: runtimes disagree on such values, so they are refused by name."""
    model = onnx_model([node], inputs, [vi("y", None)], opset=18)
    name = next(a.name for a in node.attribute if a.i not in (0, 1))
    with pytest.raises(OnnxImportError, match=f"attribute '{name}' is .*it is a switch, 0 or 1"):
        import_onnx(model)


def test_leaky_relu_takes_floating_point_input_only():
    """As its schema says and onnxruntime enforces (we used to return floats for integers)."""
    model = onnx_model([helper.make_node("LeakyRelu", ["x"], ["y"])], [vi("x", [2], TensorProto.INT32)],
                       [vi("y", None, TensorProto.INT32)], opset=16)
    with pytest.raises(OnnxImportError, match="LeakyRelu takes floating-point input, not int32"):
        import_onnx(model)(np.array([-1, 2], np.int32))


def test_center_crop_pad_keeps_an_integer_dtype_and_crops_and_pads_like_onnxruntime():
    x = np.arange(1, 31, dtype=np.int32).reshape(5, 6)
    model = onnx_model([helper.make_node("CenterCropPad", ["x", "s"], ["y"])],
                       [vi("x", [5, 6], TensorProto.INT32), vi("s", [2], TensorProto.INT64)],
                       [vi("y", None, TensorProto.INT32)], opset=18)
    s = np.array([3, 9], np.int64)                                  # crop the rows, pad the columns
    want = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x, "s": s})[0]
    got = import_onnx(model)(x, s).numpy()
    assert got.dtype == np.int32                                    # (it came back as int64)
    np.testing.assert_array_equal(got, want)


def _attention_model(mask_type=None, **attrs):
    inputs = [vi(n, [2, 3, 4, 8]) for n in ("q", "k", "v")]
    names = ["q", "k", "v"]
    if mask_type is not None:
        inputs.append(vi("m", [4, 4], mask_type))
        names.append("m")
    return onnx_model([helper.make_node("Attention", names, ["y"], **attrs)], inputs, [vi("y")], opset=23)


@pytest.mark.parametrize("mask_type,attrs", [(None, {"softcap": -1.0}), (TensorProto.INT32, {}),
                                             (TensorProto.DOUBLE, {})], ids=["negative-softcap", "int-mask",
                                                                             "double-mask"])
def test_attention_reads_softcap_and_mask_types_as_onnxruntime(mask_type, attrs):
    """A negative softcap capped the scores at a negative value (it caps nothing); an additive mask of another type
    than Q made the output float64 (it has Q's type)."""
    rng = np.random.default_rng(0)
    feeds = {n: rng.standard_normal((2, 3, 4, 8)).astype(np.float32) for n in ("q", "k", "v")}
    if mask_type is not None:
        feeds["m"] = (rng.standard_normal((4, 4)) * 3).astype(helper.tensor_dtype_to_np_dtype(mask_type))
    model = _attention_model(mask_type, **attrs)
    want = ort.InferenceSession(model.SerializeToString()).run(None, feeds)[0]
    got = import_onnx(model)(**feeds).numpy()
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_attention_refuses_a_scale_that_is_not_finite():
    with pytest.raises(OnnxImportError, match="Attention: scale nan is not a finite number"):
        import_onnx(_attention_model(scale=float("nan")))(**{n: np.ones((2, 3, 4, 8), np.float32) for n in "qkv"})


def _calling(op, inputs, slot, name, value):
    """A model calling a local function whose one `op` node takes attribute `slot` from the function's attribute
    `name`, which the call sets to `value`."""
    node = helper.make_node(op, inputs, ["y"])
    node.attribute.append(onnx.AttributeProto(name=slot, ref_attr_name=name, type=onnx.AttributeProto.INT))
    f = helper.make_function("local", "F", inputs, ["y"], [node], [helper.make_opsetid("", 13)], [name])
    call = helper.make_node("F", inputs, ["y"], domain="local", **{name: value})
    graph = helper.make_graph([call], "g", [vi("x", [2, 3]), vi("i", [1], TensorProto.INT64)][:len(inputs)],
                              [vi("y")])
    return helper.make_model(graph, functions=[f], opset_imports=[helper.make_opsetid("", 13),
                                                                  helper.make_opsetid("local", 1)])


def test_switch_check_reads_the_op_slot_not_the_function_attribute_name():
    """A function attribute named like a switch but passed to Gather's axis was refused; keepdims=2 passed in
    through a function attribute was not seen (the check read the caller's name)."""
    gather = _calling("Gather", ["x", "i"], "axis", "reverse", -1)
    assert import_onnx(gather)(np.ones((2, 3), np.float32), np.array([0])).shape == (2, 1)
    with pytest.raises(OnnxImportError, match="attribute 'keepdims' is 2; it is a switch"):
        import_onnx(_calling("ReduceSum", ["x"], "keepdims", "k", 2))


def test_is_test_reads_any_nonzero_value_as_its_spec_says():
    model = onnx_model([helper.make_node("Dropout", ["x"], ["y"], is_test=2, ratio=0.5)], [vi("x", [4])], [vi("y")],
                       opset=6)
    np.testing.assert_array_equal(import_onnx(model).train()(np.ones(4, np.float32)).numpy(), np.ones(4))


@pytest.mark.parametrize("limit,iou", [([2, 5], [0.5]), ([2], [0.5, 0.1]), ([], [0.5])],
                         ids=["two-limits", "two-thresholds", "no-limit"])
def test_non_max_suppression_reads_its_scalars_as_onnxruntime(limit, iou):
    """onnxruntime takes the first value of a longer list and none as 0 boxes; the strict scalar read refused."""
    boxes = np.array([[[0, 0, 1, 1], [0, 0.1, 1, 1.1], [0, 5, 1, 6]]], np.float32)
    scores = np.array([[[0.9, 0.8, 0.7]]], np.float32)
    inits = [numpy_helper.from_array(np.array(limit, np.int64), "m"), numpy_helper.from_array(np.array(iou, np.float32),
                                                                                             "i")]
    model = onnx_model([helper.make_node("NonMaxSuppression", ["b", "s", "m", "i"], ["y"])],
                       [vi("b", [1, 3, 4]), vi("s", [1, 1, 3])], [vi("y", None, TensorProto.INT64)], inits, opset=13)
    want = ort.InferenceSession(model.SerializeToString()).run(None, {"b": boxes, "s": scores})[0]
    np.testing.assert_array_equal(import_onnx(model)(boxes, scores).numpy(), want)


def test_nodes_out_of_order_are_sorted_as_onnxruntime_does_and_a_cycle_is_refused():
    """ONNX asks for nodes in topological order, onnxruntime sorts those that are not: we refused them."""
    nodes = [helper.make_node("Mul", ["b", "x"], ["y"]), helper.make_node("Relu", ["a"], ["b"]),
             helper.make_node("Neg", ["x"], ["a"])]
    model = onnx_model(nodes, [vi("x", [3])], [vi("y", [3])])
    x = np.array([1.0, -2.0, 3.0], np.float32)
    want = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    np.testing.assert_array_equal(import_onnx(model)(x).numpy(), want)
    cycle = onnx_model([helper.make_node("Neg", ["b"], ["a"]), helper.make_node("Relu", ["a"], ["b"]),
                        helper.make_node("Add", ["a", "x"], ["y"])], [vi("x", [3])], [vi("y", [3])])
    with pytest.raises(OnnxImportError, match="node 'Neg_0' \\(Neg\\) reads 'b', which no earlier node"):
        import_onnx(cycle)


class _Holder(ac.nn.Module):
    """A module holding an imported one, as a fine-tuning model wraps it: its `to` casts and moves the imported
    module's parameters without calling the imported module's own `to`."""

    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return self.body(x)


def test_double_runs_an_imported_model_in_float64_throughout():
    """`.double()` cast the parameters but a float input was still rounded to the declared float32 first: the
    result was float64 without float64's precision. Now it matches the native float64 forward, also when a holding
    module is cast, and `.float()` goes back."""
    from interop import export_onnx
    from model_zoo import mlp
    ac.manual_seed(0)
    native = mlp.build(mlp.Config(in_features=6, hidden=(16, 16), num_classes=3)).eval()
    x = np.random.default_rng(0).standard_normal((4, 6)) / 3
    imported = import_onnx(export_onnx(native, (x.astype(np.float32),))).double()
    with ac.no_grad():
        want = native.double()(ac.tensor(x)).numpy()
        got = imported(x)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-14)

    holder = _Holder(imported).float()
    assert holder(x).dtype == np.float32
    holder.double()
    np.testing.assert_allclose(holder(x).numpy(), want, rtol=1e-12, atol=1e-14)


def test_the_node_sort_ignores_omitted_names_and_sees_what_subgraphs_read():
    """An omitted input ("") counted as reading the first omitted output, so an ordered file was sorted; an If
    body's read of an outer value was not seen, so the If could move ahead of its producer."""
    then = helper.make_graph([helper.make_node("Identity", ["c"], ["t"])], "then", [], [vi("t", [2])])
    other = helper.make_graph([helper.make_node("Neg", ["c"], ["e"])], "else", [], [vi("e", [2])])
    produce_c = helper.make_node("Identity", ["w"], ["c"])
    branch = helper.make_node("If", ["cond"], ["y"], then_branch=then, else_branch=other)
    clip = helper.make_node("Clip", ["x", "", "mx"], ["w"])
    drop = helper.make_node("Dropout", ["x"], ["z", ""])
    inits = [numpy_helper.from_array(np.array(0.5, np.float32), "mx")]
    x = np.array([0.2, 0.9], np.float32)
    for nodes in ([clip, produce_c, branch, drop], [produce_c, branch, drop, clip]):  # in order, and not
        model = onnx_model(nodes, [vi("x", [2]), vi("cond", [], TensorProto.BOOL)], [vi("y", [2]), vi("z", [2])],
                           inits)
        want = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x, "cond": np.array(True)})
        got = import_onnx(model)(x, np.array(True))
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g.numpy(), w)


def test_a_holding_module_cast_reaches_the_constants_of_a_mixed_precision_model():
    """float32 and float16 weights, a float16 Constant and input: a holder's `.float()` made every weight float32
    but, its first weight being float32 already, left the Constant and the input float16."""
    nodes = [helper.make_node("Cast", ["x"], ["x32"], to=TensorProto.FLOAT),
             helper.make_node("MatMul", ["x32", "w1"], ["a"]),
             helper.make_node("Cast", ["a"], ["a16"], to=TensorProto.FLOAT16),
             helper.make_node("MatMul", ["a16", "w2"], ["b"]),
             helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(np.full(3, 0.1, np.float16))),
             helper.make_node("Add", ["b", "c"], ["y"])]
    inits = [numpy_helper.from_array(np.ones((3, 3), np.float32), "w1"),
             numpy_helper.from_array(np.ones((3, 3), np.float16), "w2")]
    model = onnx_model(nodes, [vi("x", [1, 3], TensorProto.FLOAT16)], [vi("y", None, TensorProto.FLOAT16)], inits)

    holder = _Holder(import_onnx(model)).float()
    y = holder(np.full((1, 3), 1 / 3, np.float16))
    assert holder.body._float_dtype == np.float32
    assert y.dtype == np.float32  # (the Cast to float16 stays, and meets float32 weights and Constant)


@pytest.mark.parametrize("elem", [TensorProto.FLOAT, TensorProto.INT32])
def test_reduce_max_and_min_over_an_empty_batch_and_an_empty_axis_as_onnxruntime(elem):
    """A zero-size batch reduced over its other axis failed (a reshape to (0, -1)); an empty integer axis took
    -inf for its identity."""
    dtype = helper.tensor_dtype_to_np_dtype(elem)
    for op, axes, shape in (("ReduceMax", [1], (0, 3)), ("ReduceMin", [1], (0, 3)), ("ReduceMax", [0], (0, 3)),
                            ("ReduceMin", [0], (0, 3))):
        inits = [numpy_helper.from_array(np.array(axes, np.int64), "a")]
        model = onnx_model([helper.make_node(op, ["x", "a"], ["y"])], [vi("x", list(shape), elem)],
                           [vi("y", None, elem)], inits, opset=18)
        x = np.zeros(shape, dtype)
        want = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
        np.testing.assert_array_equal(import_onnx(model)(x).numpy(), want, strict=True)
