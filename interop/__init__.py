"""ONNX interop: export engine graphs, import ONNX graphs as trainable modules, check parity with onnxruntime."""
from .export import export_onnx  # noqa: E402,F401
from .importer import OnnxModule, import_onnx  # noqa: E402,F401
from .parity import ParityReport, check_parity  # noqa: E402,F401
