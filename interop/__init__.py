"""ONNX interop: export engine graphs, import ONNX graphs as trainable modules, check parity with onnxruntime."""
