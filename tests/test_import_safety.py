"""ONNX files as hostile input: each refused request gets a typed error before anything is allocated or run."""
import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from autocompyute.errors import AutoCompyuteError  # noqa: E402
from interop import import_onnx  # noqa: E402
from interop.errors import OnnxImportError, OnnxRunError, UnsafeModelError, UnsupportedOpError  # noqa: E402
from interop.onnx import safety  # noqa: E402
from onnx_graphs import onnx_model, vi  # noqa: E402

F32 = TensorProto.FLOAT


def _external_model(location, offset=None, length=None, extra=None):
    """y = x + w, with w (4 floats) stored externally at `location`."""
    w = TensorProto(name="w", data_type=F32, dims=[4], data_location=TensorProto.EXTERNAL)
    entries = {"location": location}
    if offset is not None:
        entries["offset"] = str(offset)
    if length is not None:
        entries["length"] = str(length)
    entries.update(extra or {})
    for k, v in entries.items():
        w.external_data.add(key=k, value=v)
    return onnx_model([helper.make_node("Add", ["x", "w"], ["y"])], [vi("x", [4])], [vi("y")], [w])


def _save(tmp_path, model, name="m.onnx"):
    path = tmp_path / name
    path.write_bytes(model.SerializeToString())
    return path


@pytest.fixture
def weights(tmp_path):
    data = np.arange(8, dtype=np.float32)
    (tmp_path / "w.bin").write_bytes(data.tobytes())
    return data


def test_errors_are_typed():
    assert issubclass(UnsafeModelError, OnnxImportError)
    assert issubclass(UnsupportedOpError, OnnxImportError)
    assert issubclass(OnnxImportError, AutoCompyuteError)


def test_external_data_inside_the_folder_loads(tmp_path, weights):
    path = _save(tmp_path, _external_model("w.bin", offset=16, length=16))
    m = import_onnx(str(path))
    np.testing.assert_array_equal(m(np.zeros(4, np.float32)).numpy(), weights[4:])
    # the round trip writes the weights inline
    assert not m.to_onnx().graph.initializer[0].external_data


@pytest.mark.parametrize("location", ["/etc/passwd", "../w.bin", "sub/../../w.bin", "..\\w.bin"])
def test_refuses_absolute_and_parent_locations(tmp_path, weights, location):
    with pytest.raises(UnsafeModelError, match="absolute|'\\.\\.'"):
        import_onnx(str(_save(tmp_path, _external_model(location))))


def test_refuses_a_location_through_a_symlink(tmp_path, weights):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.bin").write_bytes(np.zeros(4, np.float32).tobytes())
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    os.symlink(outside, model_dir / "link")
    os.symlink(outside / "secret.bin", model_dir / "file.bin")
    for location in ("link/secret.bin", "file.bin"):
        with pytest.raises(UnsafeModelError, match="symlink"):
            import_onnx(str(_save(model_dir, _external_model(location))))


def test_refuses_offsets_and_lengths_outside_the_file(tmp_path, weights):
    for offset, length in ((24, 16), (10**12, 16), (0, 10**12)):
        with pytest.raises((UnsafeModelError, OnnxImportError), match="outside|length"):
            import_onnx(str(_save(tmp_path, _external_model("w.bin", offset, length))))
    with pytest.raises(UnsafeModelError, match="not a non-negative integer"):
        import_onnx(str(_save(tmp_path, _external_model("w.bin", offset="-4"))))


def test_refuses_unknown_external_data_keys(tmp_path, weights):
    with pytest.raises(UnsafeModelError, match="key 'url'"):
        import_onnx(str(_save(tmp_path, _external_model("w.bin", extra={"url": "http://example.com/w"}))))


def test_bytes_with_external_data_need_an_explicit_base_dir(tmp_path, weights):
    data = _external_model("w.bin").SerializeToString()
    with pytest.raises(UnsafeModelError, match="base_dir"):
        import_onnx(data)
    m = import_onnx(data, base_dir=str(tmp_path))
    np.testing.assert_array_equal(m(np.zeros(4, np.float32)).numpy(), weights[:4])


def test_raw_data_must_match_dims():
    bad = TensorProto(name="w", data_type=F32, dims=[4], raw_data=b"\0" * 12)
    model = onnx_model([helper.make_node("Add", ["x", "w"], ["y"])], [vi("x", [4])], [vi("y")], [bad])
    with pytest.raises(OnnxImportError, match="raw_data holds 12 bytes"):
        import_onnx(model)
    typed = TensorProto(name="w", data_type=F32, dims=[4], float_data=[1.0, 2.0])
    model = onnx_model([helper.make_node("Add", ["x", "w"], ["y"])], [vi("x", [4])], [vi("y")], [typed])
    with pytest.raises(OnnxImportError, match="float_data holds 2 values"):
        import_onnx(model)


@pytest.mark.parametrize("dims", [[-1, 4], [1 << 40, 1 << 40], [1 << 62, 1 << 62, 4]])
def test_negative_and_overflowing_dims_are_refused_before_allocating(dims):
    t = TensorProto(name="w", data_type=F32, dims=dims)
    model = onnx_model([helper.make_node("Add", ["x", "w"], ["y"])], [vi("x", [4])], [vi("y")], [t])
    with pytest.raises(UnsafeModelError, match="negative|over the limit"):
        import_onnx(model)


def _huge_node_models():
    big = numpy_helper.from_array(np.array([1 << 20, 1 << 20, 1 << 10], np.int64), "shape")
    yield onnx_model([helper.make_node("ConstantOfShape", ["shape"], ["y"])], [], [vi("y")], [big])
    yield onnx_model([helper.make_node("Expand", ["x", "shape"], ["y"])], [vi("x", [1])], [vi("y")], [big])
    yield onnx_model([helper.make_node("Tile", ["x", "reps"], ["y"])], [vi("x", [2, 2])], [vi("y")],
                 [numpy_helper.from_array(np.array([1 << 30, 1 << 30], np.int64), "reps")])
    scalars = [numpy_helper.from_array(np.array(v, np.int64), n) for v, n in ((0, "a"), (1 << 50, "b"), (1, "d"))]
    yield onnx_model([helper.make_node("Range", ["a", "b", "d"], ["y"])], [], [vi("y", None, TensorProto.INT64)],
                     scalars)


@pytest.mark.parametrize("model", list(_huge_node_models()), ids=["ConstantOfShape", "Expand", "Tile", "Range"])
def test_nodes_that_would_allocate_huge_tensors_get_a_clear_error(model):
    m = import_onnx(model)
    x = [np.ones([d.dim_value for d in vi.type.tensor_type.shape.dim], np.float32) for vi in model.graph.input]
    with pytest.raises(UnsafeModelError, match="over the limit"):
        m(*x)


def test_unsupported_ops_are_reported_all_at_once_before_anything_runs():
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="ok"),
             helper.make_node("FancyOp", ["a"], ["b"], name="fancy1"),
             helper.make_node("FancyOp", ["b"], ["c"], name="fancy2"),
             helper.make_node("__import__", ["c"], ["d"], name="sneaky"),
             helper.make_node("Relu", ["d"], ["e"], name="custom", domain="com.example"),
             helper.make_node("Relu", ["e"], ["y"], name="odd_attr", bogus=3)]
    graph = helper.make_graph(nodes, "g", [vi("x", [2])], [vi("y")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    with pytest.raises(UnsupportedOpError) as info:
        import_onnx(model)
    text = str(info.value)
    for part in ("FancyOp (opset 17)", "'fancy1'", "'fancy2'", "__import__", "'sneaky'", "com.example Relu (opset 1)",
                 "'custom'", "attribute 'bogus'", "'odd_attr'"):
        assert part in text
    assert len(info.value.missing) == 4


def test_unsupported_ops_inside_subgraphs_are_reported_too():
    inner = helper.make_graph([helper.make_node("Mystery", ["x"], ["o"], name="deep")], "then", [], [vi("o")])
    other = helper.make_graph([helper.make_node("Identity", ["x"], ["o"])], "else", [], [vi("o")])
    nodes = [helper.make_node("If", ["c"], ["y"], then_branch=inner, else_branch=other)]
    model = onnx_model(nodes, [vi("c", [], TensorProto.BOOL), vi("x", [2])], [vi("y")])
    with pytest.raises(UnsupportedOpError, match="Mystery.*'deep'"):
        import_onnx(model)


def test_truncated_and_corrupt_files_get_a_typed_error(tmp_path):
    w = numpy_helper.from_array(np.ones((64, 64), np.float32), "w")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Relu", ["h"], ["y"])]
    data = onnx_model(nodes, [vi("x", [1, 64])], [vi("y")], [w]).SerializeToString()
    for cut in (10, len(data) // 2, len(data) - 7, len(data) - 1):
        with pytest.raises(OnnxImportError):
            import_onnx(data[:cut])
    with pytest.raises(OnnxImportError):
        import_onnx(b"\xff\x00garbage" * 10)
    with pytest.raises(OnnxImportError, match="no ONNX file"):
        import_onnx(str(tmp_path / "missing.onnx"))
    with pytest.raises(OnnxImportError, match="path, bytes or onnx.ModelProto"):
        import_onnx(12)


def test_nodes_reading_undefined_values_are_refused():
    model = onnx_model([helper.make_node("Relu", ["nowhere"], ["y"])], [vi("x", [2])], [vi("y")])
    with pytest.raises(OnnxImportError, match="'nowhere'"):
        import_onnx(model)


def test_recursive_functions_are_refused():
    fn = helper.make_function("local", "Loopy", ["a"], ["b"], [helper.make_node("Loopy", ["a"], ["b"], domain="local")],
                              [helper.make_opsetid("local", 1)])
    graph = helper.make_graph([helper.make_node("Loopy", ["x"], ["y"], domain="local")], "g", [vi("x", [2])],
                              [vi("y")])
    model = helper.make_model(graph, functions=[fn], opset_imports=[helper.make_opsetid("", 17),
                                                                     helper.make_opsetid("local", 1)])
    with pytest.raises(UnsafeModelError, match="calls itself"):
        import_onnx(model)


@pytest.mark.slow
def test_a_long_graph_imports_and_runs_without_recursion_limits():
    n = 200_000
    names = ["x"] + [f"v{i}" for i in range(n)]
    nodes = [helper.make_node("Neg", [names[i]], [names[i + 1]]) for i in range(n)]
    model = onnx_model(nodes, [vi("x", [2])], [vi(names[-1])])
    m = import_onnx(model.SerializeToString())
    x = np.float32([1.0, -2.0])
    np.testing.assert_array_equal(m(x).numpy(), x)  # an even number of negations


def test_nested_subgraphs_import_and_run_without_recursion_limits():
    depth = 30  # protobuf itself limits nesting to 100 messages (3 per If level)
    leaf = helper.make_graph([helper.make_node("Neg", ["x"], ["o"])], "leaf", [], [vi("o")])
    other = helper.make_graph([helper.make_node("Identity", ["x"], ["o"])], "other", [], [vi("o")])
    body = leaf
    for level in range(depth):
        body = helper.make_graph([helper.make_node("If", ["c"], ["o"], then_branch=body, else_branch=other)],
                                 f"level{level}", [], [vi("o")])
    model = onnx_model(list(body.node), [vi("c", [], TensorProto.BOOL), vi("x", [2])], [vi("o")], opset=13)
    m = import_onnx(model.SerializeToString())
    np.testing.assert_array_equal(m(np.array(True), np.float32([1, 2])).numpy(), [-1, -2])


def test_limits_are_adjustable(monkeypatch):
    monkeypatch.setitem(safety.LIMITS, "max_tensor_bytes", 1000)
    w = numpy_helper.from_array(np.ones(1000, np.float32), "w")
    model = onnx_model([helper.make_node("Add", ["x", "w"], ["y"])], [vi("x", [1000])], [vi("y")], [w])
    with pytest.raises(UnsafeModelError, match="over the limit"):
        import_onnx(model)


def test_functions_calling_each_other_twice_per_level_are_priced_before_compiling():
    """39 levels of a function calling the previous one twice expand to 2**39 nodes: refused at once, not after
    compiling millions of them."""
    ops = [helper.make_opsetid("", 17)]
    fns = [helper.make_function("local", "F0", ["a"], ["b"], [helper.make_node("Relu", ["a"], ["b"])], ops)]
    for k in range(1, 40):
        calls = [helper.make_node(f"F{k - 1}", ["a"], ["t"], domain="local"),
                 helper.make_node(f"F{k - 1}", ["t"], ["b"], domain="local")]
        fns.append(helper.make_function("local", f"F{k}", ["a"], ["b"], calls, ops))
    graph = helper.make_graph([helper.make_node("F39", ["x"], ["y"], domain="local")], "g", [vi("x", [2])], [vi("y")])
    model = helper.make_model(graph, functions=fns, opset_imports=ops + [helper.make_opsetid("local", 1)])
    with pytest.raises(UnsafeModelError, match=r"expands to 1,649,267,441,663 nodes"):   # 3 * 2**39 - 1
        import_onnx(model)


def _one_node(op, inputs, inits, n_out=1, **attrs):
    outs = [f"y{i}" for i in range(n_out)]
    node = helper.make_node(op, [name for name, _ in inputs] + [t.name for t in inits], outs, name="N", **attrs)
    return onnx_model([node], [vi(name, shape) for name, shape in inputs], [vi(o) for o in outs], inits)


def _int64(name, values):
    return numpy_helper.from_array(np.array(values, np.int64), name)


@pytest.mark.parametrize("model, inputs, cause", [
    (_one_node("Det", [("x", [2, 3])], []), [np.ones((2, 3), np.float32)], np.linalg.LinAlgError),
    (_one_node("Trilu", [("x", [4])], []), [np.ones(4, np.float32)], ValueError),
], ids=["Det of a non-square matrix", "Trilu on a vector"])
def test_a_node_failing_on_its_input_raises_a_typed_error_naming_it(model, inputs, cause):
    """What a rule or the engine cannot handle comes back as OnnxRunError (an OnnxImportError) with the node, its
    op type and its inputs' shapes; the original error is its cause."""
    with pytest.raises(OnnxRunError, match=r"ONNX node 'N' \(\w+, graph 'g'\) failed on inputs of shapes") as e:
        import_onnx(model)(*inputs)
    assert isinstance(e.value.__cause__, cause)


def test_split_num_outputs_must_match_the_node():
    model = _one_node("Split", [("x", [6, 2])], [], n_out=2, axis=0, num_outputs=1 << 40)
    model.opset_import[0].version = 18
    with pytest.raises(OnnxImportError, match="num_outputs=1099511627776 but the node has 2 outputs"):
        import_onnx(model)(np.ones((6, 2), np.float32))


def test_a_value_written_twice_is_refused():
    nodes = [helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Neg", ["x"], ["y"])]
    with pytest.raises(OnnxImportError, match=r"writes \['y'\], which an earlier node"):
        import_onnx(onnx_model(nodes, [vi("x", [2])], [vi("y")]))


def test_loop_keeps_what_its_iterations_collect_under_the_tensor_limit(monkeypatch):
    """A Loop whose scan outputs (or carried values) grow past max_tensor_bytes stops with UnsafeModelError."""
    monkeypatch.setitem(safety.LIMITS, "max_tensor_bytes", 4000)
    nodes = [helper.make_node("Identity", ["c"], ["c_out"]), helper.make_node("Identity", ["v"], ["v_out"]),
             helper.make_node("Identity", ["v"], ["s"])]
    body = helper.make_graph(nodes, "body", [vi("i", [], TensorProto.INT64), vi("c", [], TensorProto.BOOL),
                                             vi("v", [100])],
                             [vi("c_out", [], TensorProto.BOOL), vi("v_out", [100]), vi("s", [100])])
    node = helper.make_node("Loop", ["", "cond", "v0"], ["v_last", "scan"], body=body)   # no trip count
    model = onnx_model([node], [vi("v0", [100])], [vi("v_last"), vi("scan")],
                       [numpy_helper.from_array(np.array(True), "cond")])
    with pytest.raises(UnsafeModelError, match="Loop: a tensor of shape"):
        import_onnx(model)(np.ones(100, np.float32))


def _nested_loops(depth, trips):
    """`depth` Loops of `trips` iterations each, nested in each other's bodies; the innermost body adds one to the
    carried count, so the model returns trips ** depth."""
    def body(nodes, name):
        return helper.make_graph(nodes + [helper.make_node("Identity", ["c"], ["c_out"])], name,
                                 [vi("i", [], TensorProto.INT64), vi("c", [], TensorProto.BOOL), vi("v", [])],
                                 [vi("c_out", [], TensorProto.BOOL), vi("v_out", [])])
    inner = body([helper.make_node("Add", ["v", "one"], ["v_out"])], "body0")
    for level in range(1, depth):
        inner = body([helper.make_node("Loop", ["trips", "", "v"], ["v_out"], body=inner, name=f"loop{level}")],
                     f"body{level}")
    node = helper.make_node("Loop", ["trips", "", "v0"], ["v"], body=inner, name="outer")
    return onnx_model([node], [vi("v0", [])], [vi("v")], [_int64("trips", trips), _f32("one", 1.0)])


def test_nested_loops_share_one_iteration_budget(monkeypatch):
    """Loops nested three deep, 1000 iterations each, stay under a per-Loop limit of a million but run a billion
    body iterations: the limit is one budget for the whole run, spent by every loop however nested."""
    monkeypatch.setitem(safety.LIMITS, "max_loop_iterations", 50)
    np.testing.assert_array_equal(import_onnx(_nested_loops(2, 6))(np.float32(0)).numpy(), 36)  # 6 + 36 iterations
    m = import_onnx(_nested_loops(3, 4))  # 4 + 16 + 64 iterations, 4 in each Loop
    with pytest.raises(UnsafeModelError, match="Loop 'loop1': the model run's Loop and Scan iterations") as e:
        m(np.float32(0))
    assert "(in ONNX node 'outer' of type Loop, graph 'g')" in e.value.__notes__


def test_external_data_fields_must_be_ascii_digits(tmp_path):
    (tmp_path / "w.bin").write_bytes(bytes(16))
    t = TensorProto(name="w", data_type=F32, dims=[4], data_location=TensorProto.EXTERNAL)
    for key, value in (("location", "w.bin"), ("offset", "\u00b2")):
        entry = t.external_data.add()
        entry.key, entry.value = key, value
    model = onnx_model([helper.make_node("Identity", ["w"], ["y"])], [], [vi("y")], [t])
    with pytest.raises(UnsafeModelError, match="is not a non-negative integer"):
        import_onnx(model, base_dir=str(tmp_path))


def _axis_cases():
    i64 = _int64
    ones3 = numpy_helper.from_array(np.ones(3, np.float32), "s")
    yield "Gather", [helper.make_node("Gather", ["x", "i"], ["y"], axis=2)], [i64("i", [0])], 13
    yield "Split", [helper.make_node("Split", ["x"], ["y"], axis=3)], [], 13
    yield "ReduceSum", [helper.make_node("ReduceSum", ["x", "a"], ["y"])], [i64("a", [5])], 13
    yield "CumSum", [helper.make_node("CumSum", ["x", "a"], ["y"])], [i64("a", 4)], 13
    yield "LayerNormalization", [helper.make_node("LayerNormalization", ["x", "s"], ["y"], axis=3)], [ones3], 17
    yield "Unsqueeze", [helper.make_node("Unsqueeze", ["x", "a"], ["y"])], [i64("a", [9])], 13
    yield "Squeeze", [helper.make_node("Squeeze", ["x", "a"], ["y"])], [i64("a", [7])], 13
    yield "Slice", [helper.make_node("Slice", ["x", "s", "e", "a"], ["y"])], [i64("s", [0]), i64("e", [1]),
                                                                              i64("a", [4])], 13
    yield "Softmax", [helper.make_node("Softmax", ["x"], ["y"], axis=5)], [], 13
    yield "LogSoftmax", [helper.make_node("LogSoftmax", ["x"], ["y"], axis=-3)], [], 13
    yield "Hardmax", [helper.make_node("Hardmax", ["x"], ["y"], axis=3)], [], 13
    yield "TopK", [helper.make_node("TopK", ["x", "k"], ["y", "j"], axis=3)], [i64("k", [1])], 13
    yield "ArgMax", [helper.make_node("ArgMax", ["x"], ["y"], axis=3)], [], 13
    yield "Flatten", [helper.make_node("Flatten", ["x"], ["y"], axis=3)], [], 13


@pytest.mark.parametrize("nodes, inits, opset", [c[1:] for c in _axis_cases()], ids=[c[0] for c in _axis_cases()])
def test_axes_out_of_range_are_refused_not_wrapped_around(nodes, inits, opset):
    """numpy-style modulo would turn axis 3 of a rank-2 input into axis 1: a silent wrong answer."""
    model = onnx_model(nodes, [vi("x", [2, 3])], [vi(o) for o in nodes[0].output], inits, opset=opset)
    with pytest.raises(OnnxImportError, match="out of range"):
        import_onnx(model)(np.ones((2, 3), np.float32))


def test_flatten_takes_every_cut_from_minus_rank_to_rank():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    for axis, shape in [(0, (1, 24)), (2, (6, 4)), (3, (24, 1)), (-1, (6, 4)), (-3, (1, 24))]:
        model = onnx_model([helper.make_node("Flatten", ["x"], ["y"], axis=axis)], [vi("x", [2, 3, 4])], [vi("y")],
                           opset=13)
        np.testing.assert_array_equal(import_onnx(model)(x).numpy(), x.reshape(shape))


def test_inputs_must_fit_the_declared_rank_and_static_dims():
    model = onnx_model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", ["batch", 3])], [vi("y")])
    m = import_onnx(model)
    assert m(np.ones((5, 3), np.float32)).shape == (5, 3)                    # a symbolic dim takes any size
    with pytest.raises(OnnxImportError, match=r"input 'x' has shape \(5, 4\); the model declares \('\?', 3\)"):
        m(np.ones((5, 4), np.float32))
    with pytest.raises(OnnxImportError, match=r"input 'x' has shape \(3,\)"):
        m(x=np.ones(3, np.float32))


def _f32(name, values):
    return numpy_helper.from_array(np.array(values, np.float32), name)


@pytest.mark.parametrize("nodes, inits, message", [
    ([helper.make_node("Tile", ["x", "r"], ["y"])], [_int64("r", [2])], r"Tile: repeats \[2\] must be 2"),
    ([helper.make_node("Pad", ["x", "p"], ["y"])], [_int64("p", [1, 1])], "Pad: 2 pads for 2 axes"),
    ([helper.make_node("Pad", ["x", "p"], ["y"], mode="mirror")], [_int64("p", [1, 1, 1, 1])], "unknown mode"),
    ([helper.make_node("Resize", ["x", "", "s"], ["y"])], [_f32("s", [2.0])], "Resize: scales .* must be 2"),
    ([helper.make_node("Resize", ["x", "", "s"], ["y"])], [_f32("s", [1.0, float("nan")])], "finite positive"),
    ([helper.make_node("Resize", ["x", "", "", "z"], ["y"])], [_int64("z", [2, 3, 4])], "Resize: sizes"),
], ids=["Tile repeats", "Pad pads", "Pad mode", "Resize scales count", "Resize NaN scale", "Resize sizes count"])
def test_lists_that_do_not_fit_the_rank_are_refused_not_truncated(nodes, inits, message):
    model = onnx_model(nodes, [vi("x", [2, 3])], [vi("y")], inits, opset=18)
    with pytest.raises(OnnxImportError, match=message):
        import_onnx(model)(np.ones((2, 3), np.float32))


@pytest.mark.parametrize("attrs, message", [
    (dict(strides=[0, 0]), "strides .* at least 1"), (dict(dilations=[0, 1]), "dilations .* at least 1"),
    (dict(pads=[-1, 0, 0, 0]), "non-negative"), (dict(pads=[1, 1]), "must be 4"),
    (dict(group=0), "do not fit group=0"), (dict(group=2), "do not fit group=2"),
    (dict(auto_pad="SAME"), "auto_pad 'SAME' is none of"),
])
def test_conv_attributes_are_checked_with_a_clear_message(attrs, message):
    model = _one_node("Conv", [("x", [1, 1, 5, 5]), ("w", [1, 1, 3, 3])], [], **attrs)
    with pytest.raises(OnnxImportError, match=message):
        import_onnx(model)(np.ones((1, 1, 5, 5), np.float32), np.ones((1, 1, 3, 3), np.float32))


def _lstm_node(**attrs):
    w = numpy_helper.from_array(np.ones((1, 8, 3), np.float32), "W")
    r = numpy_helper.from_array(np.ones((1, 8, 2), np.float32), "R")
    return [helper.make_node("LSTM", ["x", "W", "R"], ["y0"], hidden_size=2, **attrs)], [w, r]


@pytest.mark.parametrize("nodes, inits, shape, message", [
    ([helper.make_node("DepthToSpace", ["x"], ["y0"], blocksize=0)], [], [1, 4, 2, 2], "blocksize 0"),
    ([helper.make_node("Slice", ["x", "s", "e", "a"], ["y0"])], [_int64("s", [0, 0]), _int64("e", [1]),
                                                                 _int64("a", [0, 1])], [2, 3], "one value each"),
    ([helper.make_node("OneHot", ["x", "d", "v"], ["y0"])], [_int64("d", -3), _f32("v", [0, 1])], [2],
     "depth -3 is negative"),
    (*_lstm_node(layout=5), [2, 1, 3], "layout 5"),
    (*_lstm_node(direction="sideways"), [2, 1, 3], "direction 'sideways'"),
    ([helper.make_node("TopK", ["x", "k"], ["y0", "y1"])], [_int64("k", [9])], [2, 3], "k=9 for an axis of length 3"),
], ids=["DepthToSpace blocksize 0", "Slice lists", "OneHot depth", "LSTM layout", "LSTM direction", "TopK k"])
def test_attribute_values_out_of_their_range_are_refused(nodes, inits, shape, message):
    elem = TensorProto.INT64 if nodes[0].op_type == "OneHot" else F32
    model = onnx_model(nodes, [vi("x", shape, elem)], [vi(o) for o in nodes[0].output], inits, opset=13)
    x = np.zeros(shape, helper.tensor_dtype_to_np_dtype(elem))
    with pytest.raises(OnnxImportError, match=message):
        import_onnx(model)(x)


def test_scan_needs_one_to_all_of_its_inputs_scanned():
    body = helper.make_graph([helper.make_node("Identity", ["s"], ["s_out"])], "body", [vi("s", [2])],
                             [vi("s_out", [2])])
    node = helper.make_node("Scan", ["x"], ["y"], body=body, num_scan_inputs=0)
    with pytest.raises(OnnxImportError, match="num_scan_inputs=0 for 1 inputs"):
        import_onnx(onnx_model([node], [vi("x", [2])], [vi("y")], opset=13))(np.ones(2, np.float32))


def _node_cases():
    roi = [_f32("r", [[0, 0, 1, 1]]), _int64("b", [-1])]
    yield "Split sizes", [helper.make_node("Split", ["x", "s"], ["y0", "y1"], axis=0)], [_int64("s", [2, 2])], \
        [3, 2], 13, "Split: sizes"
    yield "Conv kernel_shape", [helper.make_node("Conv", ["x", "w"], ["y0"], kernel_shape=[5, 5])], \
        [_f32("w", np.ones((1, 1, 3, 3)))], [1, 1, 6, 6], 13, "kernel_shape"
    yield "BitShift direction", [helper.make_node("BitShift", ["x", "x"], ["y0"], direction="UP")], [], [2], 13, \
        "neither LEFT nor RIGHT"
    yield "Resize mode", [helper.make_node("Resize", ["x", "", "s"], ["y0"], mode="bogus")], \
        [_f32("s", [1, 1, 2, 2])], [1, 1, 2, 2], 13, "mode 'bogus'"
    yield "ReverseSequence lengths", [helper.make_node("ReverseSequence", ["x", "l"], ["y0"])], \
        [_int64("l", [9, 1])], [4, 2], 13, "ReverseSequence: lengths"
    yield "RoiAlign batch index", [helper.make_node("RoiAlign", ["x", "r", "b"], ["y0"])], roi, [1, 1, 4, 4], 16, \
        "batch_indices"


@pytest.mark.parametrize("nodes, inits, shape, opset, message", [c[1:] for c in _node_cases()],
                         ids=[c[0] for c in _node_cases()])
def test_attribute_and_input_values_a_node_cannot_use_are_refused(nodes, inits, shape, opset, message):
    model = onnx_model(nodes, [vi("x", shape, TensorProto.UINT8 if nodes[0].op_type == "BitShift" else F32)],
                       [vi(o) for o in nodes[0].output], inits, opset=opset)
    x = np.ones(shape, np.uint8 if nodes[0].op_type == "BitShift" else np.float32)
    with pytest.raises(OnnxImportError, match=message):
        import_onnx(model)(x)


def _invalid_model_cases():
    """Models that onnxruntime refuses and we ran: truncating a list, wrapping an axis around, or reading an unknown
    mode as the other one. Each: (nodes, inputs, initializers, opset, message)."""
    b, i64 = TensorProto.BOOL, TensorProto.INT64
    ident = lambda a, b_: helper.make_node("Identity", [a], [b_])  # noqa: E731
    two_outs = helper.make_graph([ident("x", "o1"), ident("x", "o2")], "two", [], [vi("o1"), vi("o2")])
    yield "If branch outputs", [helper.make_node("If", ["c"], ["y"], then_branch=two_outs, else_branch=two_outs)], \
        [("c", [], b), ("x", [2], F32)], [], 13, \
        "If then_branch: the body takes 0 inputs and gives 2 outputs; the node needs 0 and 1"
    body = helper.make_graph([ident("c", "c_out"), ident("x", "v_out")], "body",
                             [vi("i", [], i64), vi("c", [], b)], [vi("c_out", [], b), vi("v_out")])
    yield "Loop body inputs", [helper.make_node("Loop", ["m", "", "x"], ["y"], body=body)], [("x", [2], F32)], \
        [_int64("m", 2)], 13, "Loop: the body takes 2 inputs and gives 2 outputs; the node needs 3 and 2"
    scan_body = helper.make_graph([ident("s", "s_out"), ident("s", "extra")], "body", [vi("s", [2])],
                                  [vi("s_out", [2]), vi("extra", [2])])
    yield "Scan body outputs", [helper.make_node("Scan", ["x"], ["y"], body=scan_body, num_scan_inputs=1)], \
        [("x", [3, 2], F32)], [], 13, "Scan: the body takes 1 inputs and gives 2 outputs; the node needs 1 and 1"
    scan_body = helper.make_graph([ident("s", "s_out")], "body", [vi("s", [2])], [vi("s_out", [2])])
    yield "Scan axis", [helper.make_node("Scan", ["x"], ["y"], body=scan_body, num_scan_inputs=1,
                                         scan_input_axes=[5])], [("x", [3, 2], F32)], [], 13, "5 is out of range"
    yield "Scan direction", [helper.make_node("Scan", ["x"], ["y"], body=scan_body, num_scan_inputs=1,
                                              scan_input_directions=[2])], [("x", [3, 2], F32)], [], 13, \
        "must be 0 \\(forward\\) or 1"
    one_out = helper.make_graph([ident("x", "o")], "one", [], [vi("o")])
    yield "If cond shape", [helper.make_node("If", ["c"], ["y"], then_branch=one_out, else_branch=one_out)], \
        [("c", [2], b), ("x", [2], F32)], [], 13, "must hold one value, not 2"
    yield "Trilu k", [helper.make_node("Trilu", ["x", "k"], ["y"])], [("x", [2, 2], F32)], [_int64("k", [0, 1])], 14, \
        "must hold one value, not 2"
    yield "Clip min", [helper.make_node("Clip", ["x", "lo"], ["y"])], [("x", [2], F32)], [_f32("lo", [0, 1])], 13, \
        "must hold one value, not 2"
    yield "DepthToSpace mode", [helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=2, mode="XYZ")], \
        [("x", [1, 4, 1, 1], F32)], [], 13, "mode 'XYZ' is neither DCR nor CRD"
    yield "Unsqueeze axes", [helper.make_node("Unsqueeze", ["x", "a"], ["y"])], [("x", [2], F32)], \
        [_int64("a", [0, 0])], 13, "name an axis twice"
    yield "Slice axes", [helper.make_node("Slice", ["x", "s", "e", "a"], ["y"])], [("x", [4], F32)], \
        [_int64("s", [0, 1]), _int64("e", [3, 2]), _int64("a", [0, 0])], 13, "name an axis twice"
    yield "MaxPool pads", [helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2], pads=[2, 0])], \
        [("x", [1, 1, 4], F32)], [], 13, "pads \\[2, 0\\] must be smaller than the kernel"


@pytest.mark.parametrize("nodes, inputs, inits, opset, message", [c[1:] for c in _invalid_model_cases()],
                         ids=[c[0] for c in _invalid_model_cases()])
def test_invalid_models_that_onnxruntime_refuses_are_refused(nodes, inputs, inits, opset, message):
    model = onnx_model(nodes, [vi(name, shape, elem) for name, shape, elem in inputs], [vi("y")], inits, opset=opset)
    feeds = [np.ones(shape, helper.tensor_dtype_to_np_dtype(elem)) for _, shape, elem in inputs]
    with pytest.raises(OnnxImportError, match=message):
        import_onnx(model)(*feeds)


def test_a_reduction_over_an_axis_named_twice_reduces_it_once():
    """As onnxruntime does (where Unsqueeze, Slice and Pad refuse an axis named twice)."""
    model = onnx_model([helper.make_node("ReduceSum", ["x", "a"], ["y"])], [vi("x", [2, 3])], [vi("y")],
                       [_int64("a", [1, -1])], opset=13)
    np.testing.assert_array_equal(import_onnx(model)(np.ones((2, 3), np.float32)).numpy(), [[3], [3]])


def test_tf_idf_skips_longer_than_the_row_are_not_tried():
    """max_skip_count=2**40 made 2**40 passes over a row of 6 tokens (a hang); skips past the row's end find no
    n-gram, so the count is the one for the longest skip that fits."""
    def model(max_skip):
        node = helper.make_node("TfIdfVectorizer", ["x"], ["y"], mode="TF", min_gram_length=2, max_gram_length=2,
                                max_skip_count=max_skip, ngram_counts=[0, 0], ngram_indexes=[0, 1],
                                pool_int64s=[1, 2, 1, 3])
        return onnx_model([node], [vi("x", [6], TensorProto.INT64)], [vi("y")], opset=13)
    x = np.array([1, 5, 2, 1, 4, 3], np.int64)
    want = import_onnx(model(5))(x).numpy()
    np.testing.assert_array_equal(want, [1, 2])  # (1, 2) two apart; (1, 3) five and two apart
    np.testing.assert_array_equal(import_onnx(model(1 << 40))(x).numpy(), want)


def test_nodes_without_outputs_and_initializers_out_of_their_types_range_are_refused():
    with pytest.raises(OnnxImportError, match="has no outputs"):
        import_onnx(onnx_model([helper.make_node("Relu", ["x"], [])], [vi("x", [2])], [vi("x")]))
    for data_type, field, value in ((TensorProto.INT8, "int32_data", 1000),
                                    (TensorProto.UINT32, "uint64_data", 1 << 40),
                                    (TensorProto.FLOAT16, "int32_data", 70000)):
        t = TensorProto(name="w", data_type=data_type, dims=[1])
        getattr(t, field).append(value)
        model = onnx_model([helper.make_node("Identity", ["w"], ["y"])], [], [vi("y")], [t])
        with pytest.raises(OnnxImportError, match="outside .* range"):
            import_onnx(model)


def test_an_input_that_is_not_an_array_is_named():
    m = import_onnx(onnx_model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", [2, None])], [vi("y")]))
    with pytest.raises(OnnxImportError, match="input 'x' is not an array"):
        m([[1.0, 2.0], [3.0]])


def _huge_rule_cases():
    big = 1 << 20
    yield "Pad", [helper.make_node("Pad", ["x", "p"], ["y"])], [_int64("p", [big, big, big, big])], [2, 2], 13
    yield "Conv pads", [helper.make_node("Conv", ["x", "w"], ["y"], pads=[big] * 4)], \
        [_f32("w", np.ones((1, 1, 3, 3)))], [1, 1, 5, 5], 13
    yield "MaxUnpool", [helper.make_node("MaxUnpool", ["x", "i", "s"], ["y"], kernel_shape=[2, 2], strides=[2, 2])], \
        [_int64("i", np.zeros((1, 1, 2, 2))), _int64("s", [1, 1, big, big])], [1, 1, 2, 2], 11
    yield "RandomNormal", [helper.make_node("RandomNormal", [], ["y"], shape=[big, big])], [], None, 13
    yield "Multinomial", [helper.make_node("Multinomial", ["x"], ["y"], sample_size=1 << 40)], [], [1, 3], 13
    yield "HannWindow", [helper.make_node("HannWindow", ["s"], ["y"])], [_int64("s", 1 << 40)], None, 17


@pytest.mark.parametrize("nodes, inits, shape, opset", [c[1:] for c in _huge_rule_cases()],
                         ids=[c[0] for c in _huge_rule_cases()])
def test_rules_check_what_they_would_allocate(nodes, inits, shape, opset):
    inputs = [] if shape is None else [vi("x", shape)]
    model = onnx_model(nodes, inputs, [vi("y")], inits, opset=opset)
    with pytest.raises(UnsafeModelError, match="over the limit"):
        import_onnx(model)(*([] if shape is None else [np.ones(shape, np.float32)]))


def _small_model_huge_output_cases():
    """Nodes asking for a result of 4 MiB or more from inputs of at most 8 KiB (the limit is set to 1 MiB)."""
    n = 1024
    yield "Where", [helper.make_node("Where", ["c", "a", "b"], ["y"])], \
        [("c", [n, 1], TensorProto.BOOL), ("a", [1, n], F32), ("b", [], F32)], [], 13
    for op in ("Sum", "Mean"):
        yield op, [helper.make_node(op, ["a", "b"], ["y"])], [("a", [n, 1], F32), ("b", [1, n], F32)], [], 13
    yield "Einsum outer product", [helper.make_node("Einsum", ["a", "b"], ["y"], equation="i,j->ij")], \
        [("a", [n], F32), ("b", [n], F32)], [], 13
    yield "Einsum integers", [helper.make_node("Einsum", ["a", "b"], ["y"], equation="i,j")], \
        [("a", [n], TensorProto.INT64), ("b", [n], TensorProto.INT64)], [], 13
    yield "Gemm", [helper.make_node("Gemm", ["a", "b"], ["y"])], [("a", [n, 1], F32), ("b", [1, n], F32)], [], 13
    yield "Gather", [helper.make_node("Gather", ["a", "i"], ["y"])], [("a", [2, n], F32)], \
        [_int64("i", np.zeros(n))], 13
    yield "Concat", [helper.make_node("Concat", ["a"] * n, ["y"], axis=0)], [("a", [n], F32)], [], 13
    yield "ConvTranspose strides", [helper.make_node("ConvTranspose", ["a", "w"], ["y"], strides=[n, n])], \
        [("a", [1, 1, 2, 2], F32)], [_f32("w", np.ones((1, 1, 1, 1)))], 13
    yield "ConvTranspose output_shape", [helper.make_node("ConvTranspose", ["a", "w"], ["y"],
                                                          output_shape=[2 * n, 2 * n])], \
        [("a", [1, 1, 2, 2], F32)], [_f32("w", np.ones((1, 1, 1, 1)))], 13
    yield "ConvTranspose columns", [helper.make_node("ConvTranspose", ["a", "w"], ["y"], pads=[31, 31, 31, 31])], \
        [("a", [1, 1, 32, 32], F32)], [_f32("w", np.ones((1, 1, 32, 32)))], 13
    yield "Conv columns", [helper.make_node("Conv", ["a", "w"], ["y"], pads=[16, 16, 16, 16])], \
        [("a", [1, 1, 32, 32], F32)], [_f32("w", np.ones((1, 1, 32, 32)))], 13
    yield "DFT", [helper.make_node("DFT", ["a", "l"], ["y"], axis=1)], [("a", [1, 4, 1], F32)], \
        [_int64("l", 1 << 20)], 17
    yield "Upsample", [helper.make_node("Upsample", ["a", "s"], ["y"])], [("a", [1, 1, 2, 2], F32)], \
        [_f32("s", [1, 1, n, n])], 9
    yield "Resize matrix", [helper.make_node("Resize", ["a", "", "", "s"], ["y"], mode="cubic")], \
        [("a", [1, n], F32)], [_int64("s", [1, 2 * n])], 13   # an 8 KiB result, a (2048, 1024) float64 matrix


@pytest.mark.parametrize("nodes, inputs, inits, opset", [c[1:] for c in _small_model_huge_output_cases()],
                         ids=[c[0] for c in _small_model_huge_output_cases()])
def test_small_inputs_asking_for_huge_outputs_are_refused_before_allocating(monkeypatch, nodes, inputs, inits,
                                                                         opset):
    monkeypatch.setitem(safety.LIMITS, "max_tensor_bytes", 1 << 20)
    model = onnx_model(nodes, [vi(name, shape, elem) for name, shape, elem in inputs], [vi("y")], inits, opset=opset)
    feeds = [np.ones(shape, helper.tensor_dtype_to_np_dtype(elem)) for _, shape, elem in inputs]
    with pytest.raises(UnsafeModelError, match="over the limit"):
        import_onnx(model)(*feeds)


@pytest.mark.parametrize("op, index", [("Gather", -4), ("Gather", 3), ("GatherElements", -4)])
def test_gather_indices_outside_minus_n_to_n_are_refused(op, index):
    """-4 on a dim of 3 used to wrap around twice to a valid-looking index."""
    idx = _int64("i", [[index, 0]] if op == "GatherElements" else [index])
    model = _one_node(op, [("x", [2, 3])], [idx], axis=1)
    with pytest.raises(OnnxImportError, match="out of range for a dim of length 3"):
        import_onnx(model)(np.ones((2, 3), np.float32))


def test_loss_reductions_must_be_known():
    model = _one_node("NegativeLogLikelihoodLoss", [("x", [2, 3])], [_int64("t", [0, 1])], reduction="avg")
    with pytest.raises(OnnxImportError, match="reduction 'avg' is none of"):
        import_onnx(model)(np.zeros((2, 3), np.float32))


def test_integer_mod_by_zero_and_unknown_fmod_are_refused():
    zero = numpy_helper.from_array(np.array([0, 2], np.int32), "d")
    model = onnx_model([helper.make_node("Mod", ["x", "d"], ["y"])], [vi("x", [2], TensorProto.INT32)], [vi("y")],
                       [zero], opset=13)
    with pytest.raises(OnnxImportError, match="integer division by zero"):
        import_onnx(model)(np.array([5, 5], np.int32))
    model = onnx_model([helper.make_node("Mod", ["x", "x"], ["y"], fmod=2)], [vi("x", [2])], [vi("y")], opset=13)
    with pytest.raises(OnnxImportError, match="attribute 'fmod' is 2; it is a switch, 0 or 1"):
        import_onnx(model)


def test_gathernd_matches_the_reference_and_refuses_batch_dims_that_disagree():
    from onnx.reference import ReferenceEvaluator
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    idx = np.stack([rng.integers(-4, 4, (2, 3, 2)), rng.integers(-5, 5, (2, 3, 2))], -1).astype(np.int64)
    model = onnx_model([helper.make_node("GatherND", ["x", "i"], ["y"], batch_dims=2)], [vi("x", [2, 3, 4, 5])],
                       [vi("y")], [numpy_helper.from_array(idx, "i")], opset=13)
    np.testing.assert_array_equal(import_onnx(model)(x).numpy(), ReferenceEvaluator(model).run(None, {"x": x})[0])
    wrong = onnx_model([helper.make_node("GatherND", ["x", "i"], ["y"], batch_dims=1)], [vi("x", [2, 3, 4])],
                       [vi("y")], [_int64("i", np.zeros((3, 2, 1)))], opset=13)
    with pytest.raises(OnnxImportError, match="batch dims must agree"):
        import_onnx(wrong)(np.ones((2, 3, 4), np.float32))
    out_of_range = onnx_model([helper.make_node("GatherND", ["x", "i"], ["y"])], [vi("x", [2, 3])], [vi("y")],
                              [_int64("i", [[0, -4]])], opset=13)
    with pytest.raises(OnnxImportError, match="out of range"):
        import_onnx(out_of_range)(np.ones((2, 3), np.float32))


def test_broadcasts_and_products_are_checked_before_computing():
    """A 201-byte model could ask Add for an 8 GiB broadcast, or MatMul for a 16 GiB outer product."""
    big = 1 << 16
    add = onnx_model([helper.make_node("Add", ["x", "z"], ["y"])], [vi("x", [big, 1]), vi("z", [1, big])], [vi("y")])
    with pytest.raises(UnsafeModelError, match="broadcast: a tensor of shape"):
        import_onnx(add)(np.ones((big, 1), np.float32), np.ones((1, big), np.float32))
    mm = onnx_model([helper.make_node("MatMul", ["x", "z"], ["y"])], [vi("x", [big, 1]), vi("z", [1, big])], [vi("y")])
    with pytest.raises(UnsafeModelError, match="MatMul: a tensor of shape"):
        import_onnx(mm)(np.ones((big, 1), np.float32), np.ones((1, big), np.float32))


def test_device_dtype_tells_the_dtypes_a_gpu_array_can_hold():
    """float8, int4 and bfloat16 (ml_dtypes) have no GPU array type: an imported module on a GPU keeps such inputs
    on the CPU for Cast to read (the placement itself is tested on a GPU: tests/test_import_gpu.py)."""
    import ml_dtypes

    from interop.importer import device_dtype
    assert all(device_dtype(np.dtype(t)) for t in (np.float16, np.float32, np.float64, np.int8, np.int64, np.bool_))
    assert not any(device_dtype(np.dtype(t)) for t in (ml_dtypes.float8_e5m2, ml_dtypes.float8_e4m3fn,
                                                        ml_dtypes.bfloat16, ml_dtypes.int4, np.str_, object))


@pytest.mark.parametrize("op", ["Add", "Sub", "Div", "Less", "Max", "Where"])
@pytest.mark.parametrize("types", [(TensorProto.INT32, TensorProto.FLOAT), (TensorProto.INT32, TensorProto.INT64)])
def test_inputs_of_two_types_are_refused_like_onnxruntime(op, types):
    """They ran with numpy's promotion (int32 / float32 gave float64); the ops take one type T for both."""
    names = ["c", "a", "b"] if op == "Where" else ["a", "b"]
    inputs = [vi("a", [2], types[0]), vi("b", [2], types[1])] + ([vi("c", [2], TensorProto.BOOL)] * (op == "Where"))
    model = onnx_model([helper.make_node(op, names, ["y"])], inputs, [vi("y")], opset=17)
    feeds = {"a": np.array([4, 6], helper.tensor_dtype_to_np_dtype(types[0])),
             "b": np.array([2, 3], helper.tensor_dtype_to_np_dtype(types[1]))}
    if op == "Where":
        feeds["c"] = np.array([True, False])
    with pytest.raises(OnnxImportError, match="inputs of types .* the op takes two of one type"):
        import_onnx(model)(**feeds)


def test_resize_general_form_refuses_a_longer_axis_than_its_limit(monkeypatch):
    """Cubic resizing of a (1, 1, 1, 1) input to 500 M values passed the memory check and then worked out its
    weights one output at a time for hours; the axis is refused first."""
    monkeypatch.setitem(safety.LIMITS, "max_interpolated_axis", 1000)

    def resized(n):
        sizes = numpy_helper.from_array(np.array([1, 1, 1, n], np.int64), "sizes")
        node = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="cubic")
        model = onnx_model([node], [vi("x", [1, 1, 1, 1])], [vi("y")], [sizes], opset=19)
        return import_onnx(model)(np.ones((1, 1, 1, 1), np.float32))

    with pytest.raises(UnsafeModelError, match=r"Resize \(cubic\): an output axis of 1,001 exceeds the limit"):
        resized(1001)
    assert resized(1000).shape == (1, 1, 1, 1000)


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_a_non_finite_value_reaches_only_the_outputs_that_read_it(value):
    """ScatterND's add padded each output with weight-0 copies of its data element (and AveragePool pads with
    weight-0 terms): inf * 0 made a nan where nothing was scattered, and onnxruntime keeps the data."""
    data = np.arange(8, dtype=np.float32).reshape(4, 2)
    data[3, 1] = value
    node = helper.make_node("ScatterND", ["data", "indices", "updates"], ["y"], reduction="add")
    indices = numpy_helper.from_array(np.array([[0], [0]], np.int64), "indices")
    model = onnx_model([node], [vi("data", [4, 2]), vi("updates", [2, 2])], [vi("y")], [indices], opset=18)
    y = import_onnx(model)(data, np.ones((2, 2), np.float32)).numpy()
    want = data.copy()
    want[0] += 2
    np.testing.assert_array_equal(y, want)


@pytest.mark.parametrize("mode, want", [("nearest", [1, 3]), ("linear", [np.inf, 5.5])])
def test_resize_general_form_reads_only_the_inputs_each_output_weighs(mode, want):
    """Its interpolation matrix was applied as a matmul, so an inf in an input no output reads added inf * 0 =
    nan to every output along its axis; onnxruntime resizes the other values as usual."""
    x = np.array([[[[1, np.inf, 3, 4], [5, 6, 7, 8]]]], np.float32)
    sizes = numpy_helper.from_array(np.array([1, 1, 1, 2], np.int64), "sizes")
    node = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode=mode, keep_aspect_ratio_policy="not_larger")
    model = onnx_model([node], [vi("x", [1, 1, 2, 4])], [vi("y")], [sizes], opset=19)
    np.testing.assert_array_equal(import_onnx(model)(x).numpy(), np.array(want, np.float32).reshape(1, 1, 1, 2))


def test_call_inputs_of_another_kind_are_refused_and_lists_take_the_declared_type():
    """An int array ran through a float model (and a float array through an int one) in its own type, and a list
    for a uint8 input made int64 values (Mod gave int64); onnxruntime refuses the arrays, so we do, by name.
    Integers of another width are cast where their values fit (as floats of another width are)."""
    u8 = TensorProto.UINT8
    model = onnx_model([helper.make_node("Mod", ["a", "b"], ["y"])], [vi("a", [3], u8), vi("b", [3], u8)], [vi("y")])
    m = import_onnx(model)
    y = m([7, 8, 9], np.array([2, 3, 4], np.uint8))
    assert y.dtype == np.uint8 and y.numpy().tolist() == [1, 2, 1]
    assert m(np.array([7, 8, 9]), np.array([2, 3, 4], np.uint8)).dtype == np.uint8  # integers that fit: cast
    with pytest.raises(OnnxImportError, match="input 'a' \\(int64\\) holds values outside the declared uint8"):
        m(np.array([7, 8, -9]), np.array([2, 3, 4], np.uint8))
    with pytest.raises(OnnxImportError, match="input 'a' is not an array of uint8"):
        m([7, 8, 300], np.array([2, 3, 4], np.uint8))
    with pytest.raises(OnnxImportError, match="input 'a' is not an array of uint8: it holds values that are not whole"):
        m([7, 8.5, 9], np.array([2, 3, 4], np.uint8))  # (was truncated to 8)
    relu = import_onnx(onnx_model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", [2])], [vi("y")]))
    with pytest.raises(OnnxImportError, match="input 'x' is an array of int64; the model declares float32"):
        relu(np.array([-1, 2]))
    assert relu(np.array([-1.0, 2.0])).dtype == np.float32 and relu([-1, 2]).numpy().tolist() == [0.0, 2.0]


@pytest.mark.parametrize("op", ["SoftmaxCrossEntropyLoss", "NegativeLogLikelihoodLoss"])
def test_a_nan_in_an_ignored_targets_row_does_not_reach_the_loss(op):
    """Ignored targets were multiplied by a weight of 0, and nan * 0 made the whole mean nan; onnxruntime skips
    them."""
    x = np.array([[np.nan, 0.0, 1.0], [0.5, 1.0, -1.0]], np.float32)
    node = helper.make_node(op, ["x", "t"], ["y"], ignore_index=1)
    model = onnx_model([node], [vi("x", [2, 3]), vi("t", [2], TensorProto.INT64)], [vi("y")], opset=13)
    y = import_onnx(model)(x, np.array([1, 0])).numpy()
    want = -(x[1, 0] - np.log(np.exp(x[1]).sum())) if op.startswith("Softmax") else -x[1, 0]
    np.testing.assert_allclose(y, want, rtol=1e-6)


@pytest.mark.parametrize("node, message", [
    (helper.make_node("ArgMax", ["x"], ["y"], axis=[1]), "attribute 'axis' is of type INTS; the op takes INT"),
    (helper.make_node("ArgMax", ["x"], ["y"], keepdims=1.0), "attribute 'keepdims' is of type FLOAT; the op takes INT"),
    (helper.make_node("LeakyRelu", ["x"], ["y"], alpha=2), "attribute 'alpha' is of type INT; the op takes FLOAT"),
    (helper.make_node("Concat", ["x", "x"], ["y"]), r"required attributes \['axis'\] are missing"),
    (helper.make_node("BitShift", ["x", "x"], ["y"]), r"required attributes \['direction'\] are missing"),
], ids=["INTS for INT", "FLOAT for INT", "INT for FLOAT", "Concat without axis", "BitShift without direction"])
def test_attributes_of_another_type_than_the_schemas_or_missing_required_ones_are_refused(node, message):
    """Each rule read them in its own way (LeakyRelu took alpha=2 as 2.0, BitShift without a direction shifted
    left, ArgMax failed on a list while running); onnxruntime refuses these models when loading them."""
    elem = TensorProto.UINT8 if node.op_type == "BitShift" else F32
    model = onnx_model([node], [vi("x", [2, 3], elem)], [vi("y")], opset=13)
    with pytest.raises(OnnxImportError, match=message):
        import_onnx(model)


@pytest.mark.parametrize("op, x", [("Asinh", [-np.inf, -1e4, 1e-8, 1e20]), ("Acosh", [1e20, 1.5, np.inf]),
                                   ("Atanh", [1e-8, -0.5, 0.999])])
def test_inverse_hyperbolic_functions_keep_small_and_large_values(op, x):
    """As logs of x + sqrt(x * x + 1) and the like they made nan of asinh(-inf), -inf of asinh(-1e4), 0 of
    asinh(1e-8) and atanh(1e-8), inf of acosh(1e20) in float32; onnxruntime computes them as numpy does."""
    x = np.array(x, np.float32)
    model = onnx_model([helper.make_node(op, ["x"], ["y"])], [vi("x", [len(x)])], [vi("y")])
    want = {"Asinh": np.arcsinh, "Acosh": np.arccosh, "Atanh": np.arctanh}[op](x)
    np.testing.assert_allclose(import_onnx(model)(x).numpy(), want, rtol=1e-6)


@pytest.mark.parametrize("value, message", [
    (np.zeros((3, 2), np.float32), r"initializer 'x' has shape \(3, 2\); the graph input .* declared \(2,\)"),
    (np.zeros(2, np.int64), "initializer 'x' is INT64; the graph input of that name is declared FLOAT"),
])
def test_an_initializer_giving_an_input_its_default_has_the_inputs_type_and_shape(value, message):
    """The default ran in its own shape or type when the input was not given (a (3, 2) output for a model
    declaring (2,)); onnxruntime refuses the model."""
    model = onnx_model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", [2])], [vi("y")],
                       [numpy_helper.from_array(value, "x")])
    with pytest.raises(OnnxImportError, match=message):
        import_onnx(model)
