"""Import rules for random ops (interop/onnx/random.py): seeded nodes repeat, shapes and dtypes follow ONNX,
and the samples have the right distribution."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

from interop.importer import import_onnx  # noqa: E402


def _run(node, inputs=(), opset=22):
    vis = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
           for n, a in zip(node.input, inputs)]
    graph = helper.make_graph([node], "g", vis, [helper.make_empty_tensor_value_info(o) for o in node.output])
    model = import_onnx(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]))
    return model(*inputs).numpy()


def test_seeded_nodes_repeat_and_unseeded_differ():
    x = np.zeros((20, 30), np.float32)
    seeded = helper.make_node("RandomUniformLike", ["x"], ["y"], seed=3.0, low=-1.0, high=2.0)
    a, b = _run(seeded, [x]), _run(seeded, [x])
    assert (a == b).all() and a.dtype == np.float32 and a.shape == (20, 30)
    assert a.min() >= -1.0 and a.max() < 2.0
    free = helper.make_node("RandomUniformLike", ["x"], ["y"])
    assert not (_run(free, [x]) == _run(free, [x])).all()


def test_random_normal_shape_dtype_and_moments():
    y = _run(helper.make_node("RandomNormal", [], ["y"], shape=[200, 50], mean=1.5, scale=0.5,
                              dtype=TensorProto.DOUBLE, seed=1.0))
    assert y.shape == (200, 50) and y.dtype == np.float64
    assert abs(y.mean() - 1.5) < 0.02 and abs(y.std() - 0.5) < 0.02
    like = _run(helper.make_node("RandomNormalLike", ["x"], ["y"], seed=2.0), [np.zeros((4, 5), np.float64)])
    assert like.shape == (4, 5) and like.dtype == np.float64


def test_bernoulli_follows_its_probabilities():
    p = np.tile(np.array([0.0, 0.2, 1.0], np.float32), (4000, 1))
    y = _run(helper.make_node("Bernoulli", ["p"], ["y"], seed=0.0), [p])
    assert y.dtype == np.float32 and set(np.unique(y)) <= {0.0, 1.0}
    assert y[:, 0].sum() == 0 and y[:, 2].all() and abs(y[:, 1].mean() - 0.2) < 0.03


def test_multinomial_draws_class_indices_by_probability():
    logits = np.log(np.array([[0.7, 0.3, 0.0], [0.0, 0.0, 1.0]], np.float32) + 1e-30)
    y = _run(helper.make_node("Multinomial", ["x"], ["y"], sample_size=3000, seed=0.0), [logits])
    assert y.shape == (2, 3000) and y.dtype == np.int32
    assert (y[1] == 2).all() and not (y[0] == 2).any() and abs((y[0] == 0).mean() - 0.7) < 0.03
