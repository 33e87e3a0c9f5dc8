"""Imported ONNX models on CUDA (CuPy): `OnnxModule.to("cuda")` moves the graph's constants with its parameters,
and training on the GPU gives what it gives on the CPU. Skipped without CuPy and an NVIDIA GPU."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import autocompyute as ac
from interop import export_onnx, import_onnx
from model_zoo.lenet import Config, LeNet
from onnx_graphs import onnx_model, vi

pytestmark = pytest.mark.gpu


def _step(module, x, device):
    """One forward and backward of sum(out**2) on `device`: the output and the parameters' gradients, on the CPU."""
    module = module.to(device)
    out = module(x)
    (out * out).sum().backward()
    grads = {n: ac.backends.to_device(p.grad, "cpu") for n, p in module.named_parameters()}
    return out.numpy(), grads, out.device


def test_imported_cnn_trains_on_cuda_as_on_cpu():
    ac.manual_seed(0)
    proto = export_onnx(LeNet(Config(channels=(4, 8), hidden=16)).double(), np.zeros((2, 1, 28, 28)))
    x = np.random.default_rng(0).standard_normal((3, 1, 28, 28))
    out_cpu, grads_cpu, _ = _step(import_onnx(proto), x, "cpu")
    out_gpu, grads_gpu, device = _step(import_onnx(proto), x, "cuda")  # a numpy input follows the module
    assert device == "cuda"
    np.testing.assert_allclose(out_gpu, out_cpu, rtol=1e-9, atol=1e-12)
    assert grads_gpu.keys() == grads_cpu.keys() and grads_cpu
    for name in grads_cpu:
        np.testing.assert_allclose(grads_gpu[name], grads_cpu[name], rtol=1e-8, atol=1e-12, err_msg=name)


def _constants_everywhere():
    """y = If(c, then: x * k_then (a subgraph initializer), else: x + 1 (a Constant node)) * w + b (a constant
    initializer beside the trainable w), with a Loop whose body adds a Constant to its carried value."""
    one = helper.make_node("Constant", [], ["one"], value=numpy_helper.from_array(np.ones(3)))
    then = helper.make_graph([helper.make_node("Mul", ["x", "k_then"], ["t"])], "then", [],
                             [vi("t", [3], TensorProto.DOUBLE)],
                             [numpy_helper.from_array(np.full(3, 3.0), "k_then")])
    other = helper.make_graph([one, helper.make_node("Add", ["x", "one"], ["e"])], "else", [],
                              [vi("e", [3], TensorProto.DOUBLE)])
    step = helper.make_node("Constant", [], ["inc"], value=numpy_helper.from_array(np.full(3, 0.5)))
    body = helper.make_graph([step, helper.make_node("Add", ["v_in", "inc"], ["v_out"]),
                              helper.make_node("Identity", ["cond_in"], ["cond_out"])], "body",
                             [vi("i", [], TensorProto.INT64), vi("cond_in", [], TensorProto.BOOL),
                              vi("v_in", [3], TensorProto.DOUBLE)],
                             [vi("cond_out", [], TensorProto.BOOL), vi("v_out", [3], TensorProto.DOUBLE)])
    nodes = [helper.make_node("If", ["c"], ["r"], then_branch=then, else_branch=other),
             helper.make_node("Mul", ["r", "w"], ["rw"]),
             helper.make_node("Loop", ["n", "", "rw"], ["looped"], body=body),
             helper.make_node("Add", ["looped", "b"], ["y"])]
    inits = [numpy_helper.from_array(np.array([1.0, 2.0, 3.0]), "w"),
             numpy_helper.from_array(np.array(4, dtype=np.int64), "n"),
             numpy_helper.from_array(np.array([0.1, 0.2, 0.3]), "b")]
    return onnx_model(nodes, [vi("x", [3], TensorProto.DOUBLE), vi("c", [], TensorProto.BOOL)],
                      [vi("y", [3], TensorProto.DOUBLE)], inits)


@pytest.mark.parametrize("cond", [True, False])
def test_constants_of_subgraphs_and_constant_nodes_move_with_the_module(cond):
    module = import_onnx(_constants_everywhere()).to("cuda")
    x = np.array([1.0, -2.0, 0.5])
    y = module(x, np.array(cond))
    assert y.device == "cuda"
    branch = x * 3.0 if cond else x + 1.0
    np.testing.assert_allclose(y.numpy(), branch * [1.0, 2.0, 3.0] + 4 * 0.5 + [0.1, 0.2, 0.3], rtol=1e-12)
    back = module.to("cpu")(x, np.array(cond))  # and back again
    assert back.device == "cpu"
    np.testing.assert_allclose(back.numpy(), y.numpy(), rtol=1e-12)


def test_an_imported_model_inside_another_module_follows_its_to():
    """The holder's `to` moves every parameter but does not call the imported module's own: its constants (a
    float constant initializer here) follow its parameters at the next call."""
    class Head(ac.nn.Module):
        def __init__(self, body):
            super().__init__()
            self.body, self.out = body, ac.nn.Linear(3, 2).double()

        def forward(self, x):
            return self.out(self.body(x))

    head = Head(_OneInput(import_onnx(_constants_everywhere())))
    x = np.array([1.0, -2.0, 0.5])
    want = head(x).numpy()
    head.to("cuda")
    got = head(x)
    assert got.device == "cuda"
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)


class _OneInput(ac.nn.Module):
    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return self.body(x, np.array(True))


def test_loop_outputs_made_on_both_devices_stack_on_the_gpu():
    """A Loop's first scan output comes from a CPU-made start value (ConstantOfShape), the next ones from adding
    a GPU input: stacking them mixed numpy and cupy arrays."""
    body = helper.make_graph([helper.make_node("Add", ["acc_in", "x"], ["acc_out"]),
                              helper.make_node("Identity", ["acc_in"], ["scan"]),
                              helper.make_node("Identity", ["cond_in"], ["cond_out"])], "body",
                             [vi("i", [], TensorProto.INT64), vi("cond_in", [], TensorProto.BOOL),
                              vi("acc_in", [3], TensorProto.DOUBLE)],
                             [vi("cond_out", [], TensorProto.BOOL), vi("acc_out", [3], TensorProto.DOUBLE),
                              vi("scan", [3], TensorProto.DOUBLE)])
    zero = numpy_helper.from_array(np.array([0.0]), "zero")
    nodes = [helper.make_node("ConstantOfShape", ["shape"], ["start"], value=zero),
             helper.make_node("Loop", ["n", "", "start"], ["final", "scans"], body=body)]
    inits = [numpy_helper.from_array(np.array([3], np.int64), "shape"),
             numpy_helper.from_array(np.array(3, np.int64), "n")]
    model = onnx_model(nodes, [vi("x", [3], TensorProto.DOUBLE)],
                       [vi("final", [3], TensorProto.DOUBLE), vi("scans", [3, 3], TensorProto.DOUBLE)], inits)
    final, scans = import_onnx(model).to("cuda")(np.array([1.0, 2.0, 3.0]))
    assert scans.device == "cuda"
    np.testing.assert_allclose(scans.numpy(), [[0, 0, 0], [1, 2, 3], [2, 4, 6]])
