"""AutoCompyute as an ONNX backend (`onnx.backend.base.Backend`), so the official backend test suite can run it.

Everything goes through the importer: `prepare` imports the model into an `OnnxModule` (unsupported ops are
reported there, all at once, as `interop.errors.UnsupportedOpError`), and `rep.run(inputs)` calls it without
building a graph and returns numpy arrays.

    rep = interop.backend.prepare(model)        # or run_model(model, inputs), run_node(node, inputs)
    outputs = rep.run([x])                      # list of numpy arrays, in the graph's output order
"""
import numpy as np
import onnx
from onnx import helper
from onnx.backend.base import Backend, BackendRep

import autocompyute as ac
from autocompyute.errors import DeviceError
from autocompyute.tensor import Tensor

_DEVICES = {"CPU": "cpu", "CUDA": "cuda"}


def _device_name(device):
    name = str(device).split(":")[0].upper()
    if name not in _DEVICES:
        raise ValueError(f"unknown ONNX backend device {device!r}; expected 'CPU' or 'CUDA'")
    return name


class AutoCompyuteRep(BackendRep):
    """A prepared model: `run(inputs)` takes a list (by position), a dict (by name) or one array."""

    def __init__(self, module, device="CPU"):
        self.module = module
        self.device = _DEVICES[_device_name(device)]

    def _tensor(self, x):  # arrays go to the module, which puts them on its device
        return x.to(self.device) if isinstance(x, Tensor) else x

    def run(self, inputs, **kwargs):
        with ac.no_grad():
            if isinstance(inputs, dict):
                outs = self.module(**{name: self._tensor(x) for name, x in inputs.items()})
            else:
                if isinstance(inputs, (np.ndarray, Tensor)):
                    inputs = [inputs]
                outs = self.module(*[self._tensor(x) for x in inputs])
        if not isinstance(outs, (tuple, list)):
            outs = (outs,)
        return [o.numpy() if isinstance(o, Tensor) else np.asarray(o) for o in outs]


class AutoCompyuteBackend(Backend):
    """The onnx backend API over `interop.import_onnx`."""

    @classmethod
    def is_compatible(cls, model, device="CPU", **kwargs):
        return cls.supports_device(device)

    @classmethod
    def prepare(cls, model, device="CPU", **kwargs):
        """Import `model` (ModelProto, bytes or path) for `device`; raises the importer's typed errors."""
        from .importer import import_onnx

        name = _device_name(device)
        if not cls.supports_device(name):
            raise DeviceError(f"ONNX backend device {device!r} is not available on this machine")
        module = import_onnx(model, base_dir=kwargs.get("base_dir"))
        if name == "CUDA":
            module = module.to("cuda")
        return AutoCompyuteRep(module, name)

    @classmethod
    def run_model(cls, model, inputs, device="CPU", **kwargs):
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node, inputs, device="CPU", outputs_info=None, **kwargs):
        """Run one NodeProto on `inputs` (a list of arrays, in the node's input order; "" inputs skipped)."""
        opset = kwargs.get("opset_version", onnx.defs.onnx_opset_version())
        arrays = [np.asarray(x) for x in inputs]
        names = [n for n in node.input if n]
        graph_inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
                        for n, a in zip(names, arrays)]
        graph_outputs = [helper.make_empty_tensor_value_info(n) for n in node.output if n]
        graph = helper.make_graph([node], "run_node", graph_inputs, graph_outputs)
        opsets = [helper.make_opsetid(node.domain or "", opset)]
        if node.domain:
            opsets.append(helper.make_opsetid("", onnx.defs.onnx_opset_version()))
        model = helper.make_model(graph, opset_imports=opsets)
        return cls.prepare(model, device, **kwargs).run(arrays)

    @classmethod
    def supports_device(cls, device):
        try:
            name = _device_name(device)
        except ValueError:
            return False
        return name == "CPU" or (name == "CUDA" and ac.cuda_available())


prepare = AutoCompyuteBackend.prepare
run_model = AutoCompyuteBackend.run_model
run_node = AutoCompyuteBackend.run_node
supports_device = AutoCompyuteBackend.supports_device
is_compatible = AutoCompyuteBackend.is_compatible
