"""The importer's speed-minded paths give the same results as the plain ones: values are dropped after their
last reader (but not those a subgraph reads from the enclosing scope, nor graph outputs), and ONNX LSTM/GRU nodes
with standard activations run through the engine's fused recurrent Ops (checked against ONNX's reference)."""
import itertools

import numpy as np
import pytest
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from interop import import_onnx
from onnx_graphs import onnx_model, vi


def test_values_are_freed_after_their_last_reader():
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Neg", ["a"], ["b"]),
             helper.make_node("Abs", ["b"], ["y"])]
    module = import_onnx(onnx_model(nodes, [vi("x", [3])], [vi("y")], opset=14))
    frees = [set(s.frees) for s in module._graph.steps]
    assert "a" in frees[1] and "b" in frees[2]
    assert all("y" not in f for f in frees)
    x = np.array([-1.0, 2.0, -3.0], np.float32)
    np.testing.assert_array_equal(module(x).numpy(), np.abs(-np.maximum(x, 0)))


def test_values_a_subgraph_reads_outlive_their_last_direct_reader():
    then = helper.make_graph([helper.make_node("Add", ["a", "b"], ["o"])], "then", [], [vi("o")])
    other = helper.make_graph([helper.make_node("Sub", ["a", "b"], ["o"])], "else", [], [vi("o")])
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Neg", ["a"], ["b"]),
             helper.make_node("ReduceSum", ["b"], ["s"], keepdims=0),
             helper.make_node("Less", ["s", "zero"], ["c"]),
             helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other)]
    model = onnx_model(nodes, [vi("x", [3])], [vi("y")], [numpy_helper.from_array(np.float32(0), "zero")], opset=14)
    x = np.array([1.0, 2.0, -3.0], np.float32)
    np.testing.assert_allclose(import_onnx(model)(x).numpy(), ReferenceEvaluator(model).run(None, {"x": x})[0])


def _recurrent(kind, direction, layout, bias, initial, linear_before_reset, rng):
    T, B, I, H = 5, 3, 4, 6
    G, D = (4 if kind == "LSTM" else 3), (2 if direction == "bidirectional" else 1)
    x = rng.standard_normal((B, T, I) if layout else (T, B, I)).astype(np.float32)
    inits = [numpy_helper.from_array(rng.standard_normal((D, G * H, I)).astype(np.float32) * 0.5, "W"),
             numpy_helper.from_array(rng.standard_normal((D, G * H, H)).astype(np.float32) * 0.5, "R")]
    names, feeds, inputs = ["x", "W", "R", "", ""], {"x": x}, [vi("x", list(x.shape))]
    if bias:
        inits.append(numpy_helper.from_array(rng.standard_normal((D, 2 * G * H)).astype(np.float32) * 0.5, "B"))
        names[3] = "B"
    if initial:
        shape = (B, D, H) if layout else (D, B, H)
        for state in ["h0", "c0"][:2 if kind == "LSTM" else 1]:
            names.append(state)
            feeds[state] = rng.standard_normal(shape).astype(np.float32)
            inputs.append(vi(state, list(shape)))
    while not names[-1]:
        names.pop()
    outputs = ["Y", "Y_h", "Y_c"][:3 if kind == "LSTM" else 2]
    attrs = dict(hidden_size=H, direction=direction, layout=layout)
    if kind == "GRU":
        attrs["linear_before_reset"] = linear_before_reset
    node = helper.make_node(kind, names, outputs, **attrs)
    return onnx_model([node], inputs, [vi(o) for o in outputs], inits, opset=14), feeds


CASES = [c for c in itertools.product(["LSTM", "GRU"], ["forward", "reverse", "bidirectional"], [0, 1], [0, 1],
                                      [0, 1], [0, 1]) if c[0] == "GRU" or not c[5]]


@pytest.mark.parametrize("kind,direction,layout,bias,initial,lbr", CASES)
def test_recurrent_nodes_match_onnx_reference(kind, direction, layout, bias, initial, lbr):
    model, feeds = _recurrent(kind, direction, layout, bias, initial, lbr, np.random.default_rng(0))
    expected = ReferenceEvaluator(model).run(None, feeds)
    module = import_onnx(model)
    got = module(**feeds)
    for e, g in zip(expected, got):
        assert g.shape == e.shape
        np.testing.assert_allclose(g.numpy(), e, rtol=1e-4, atol=1e-5)
    module.train()
    sum((o * o).sum() for o in module(**feeds)).backward()
    assert all(p.grad is not None and np.abs(np.asarray(p.grad)).sum() > 0 for p in module.parameters())


@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
def test_lstm_peepholes_match_onnx_reference_and_train(direction):
    """Peepholes (input P) take the composed path: the input and forget gates see c, the output gate c'."""
    rng = np.random.default_rng(1)
    T, B, I, H, D = 4, 2, 3, 5, 2 if direction == "bidirectional" else 1
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    inits = [numpy_helper.from_array((rng.standard_normal(s) * 0.5).astype(np.float32), n)
             for n, s in [("W", (D, 4 * H, I)), ("R", (D, 4 * H, H)), ("B", (D, 8 * H)), ("P", (D, 3 * H))]]
    node = helper.make_node("LSTM", ["x", "W", "R", "B", "", "", "", "P"], ["Y", "Y_h", "Y_c"], hidden_size=H,
                            direction=direction)
    model = onnx_model([node], [vi("x", [T, B, I])], [vi(o) for o in ["Y", "Y_h", "Y_c"]], inits, opset=14)
    expected = ReferenceEvaluator(model).run(None, {"x": x})
    module = import_onnx(model)
    for e, g in zip(expected, module(x)):
        np.testing.assert_allclose(g.numpy(), e, rtol=1e-4, atol=1e-5)
    without = helper.make_node("LSTM", ["x", "W", "R", "B"], ["Y", "Y_h", "Y_c"], hidden_size=H, direction=direction)
    plain = ReferenceEvaluator(onnx_model([without], [vi("x", [T, B, I])], [vi(o) for o in ["Y", "Y_h", "Y_c"]],
                                          inits[:3], opset=14)).run(None, {"x": x})
    assert np.abs(plain[0] - expected[0]).max() > 1e-3          # the peepholes change the result
    module.train()
    sum((o * o).sum() for o in module(x)).backward()
    assert np.abs(np.asarray(dict(module.named_parameters())["P"].grad)).sum() > 0
