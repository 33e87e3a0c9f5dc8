"""ONNX graphs built with onnx.helper, for the importer's tests: value infos and one-graph models."""
from onnx import TensorProto, helper


def vi(name, shape=None, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def onnx_model(nodes, inputs, outputs, inits=(), opset=17, **kw):
    """A model of one graph named "g", importing the default domain at `opset`."""
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], **kw)
