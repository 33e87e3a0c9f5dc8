"""The official ONNX backend test suite (shipped in the onnx wheel) run through `interop.backend`, on CPU.

Each backend case becomes one pytest test. At the end the module prints how many cases of the float32
deep-learning subset pass: every node and model case except those that involve string, sequence, optional,
map or sparse values, float8/float4/int4/int2, float16/bfloat16/float64/complex tensors, or the ai.onnx.ml and
ai.onnx.preview.training domains. The subset is computed from each case's model, independently of the
exclusions below, so an excluded case counts as a failure in the printed number.

    .venv/bin/python -m pytest -q tests/test_onnx_backend.py -s
"""
import os
import unittest
import warnings

import pytest

onnx = pytest.importorskip("onnx")
import onnx.backend.test  # noqa: E402
from onnx import AttributeProto, TensorProto  # noqa: E402
from onnx.backend.test import loader  # noqa: E402

import interop.backend as backend  # noqa: E402

# ---------------------------------------------------------------------------------------------------------
# The float32 deep-learning subset, computed from the models
# ---------------------------------------------------------------------------------------------------------
_SUBSET_ELEM_TYPES = {
    TensorProto.FLOAT, TensorProto.BOOL, TensorProto.INT8, TensorProto.INT16, TensorProto.INT32, TensorProto.INT64,
    TensorProto.UINT8, TensorProto.UINT16, TensorProto.UINT32, TensorProto.UINT64,
}
_EXCLUDED_DOMAINS = {"ai.onnx.ml", "ai.onnx.preview.training"}
# ops whose inputs or outputs are sequences or optionals even where no value_info says so
_SEQUENCE_OPTIONAL_OPS = {
    "ConcatFromSequence", "SequenceAt", "SequenceConstruct", "SequenceEmpty", "SequenceErase", "SequenceInsert",
    "SequenceLength", "SequenceMap", "SplitToSequence", "Optional", "OptionalGetElement", "OptionalHasElement",
}
_TYPE_ATTRS = {"to", "dtype", "output_datatype", "saturate_dtype"}  # attributes naming an element type


def _value_type_in_subset(tp):
    kind = tp.WhichOneof("value")
    if kind is None:
        return True  # untyped (allowed for intermediate values)
    if kind != "tensor_type":
        return False  # sequence, map, optional, sparse tensor
    return tp.tensor_type.elem_type in _SUBSET_ELEM_TYPES or tp.tensor_type.elem_type == TensorProto.UNDEFINED


def _graph_in_subset(graph):
    values = list(graph.input) + list(graph.output) + list(graph.value_info)
    if not all(_value_type_in_subset(v.type) for v in values):
        return False
    if graph.sparse_initializer or any(t.data_type not in _SUBSET_ELEM_TYPES for t in graph.initializer):
        return False
    return all(_node_in_subset(n) for n in graph.node)


def _node_in_subset(node):
    if node.domain in _EXCLUDED_DOMAINS or node.op_type in _SEQUENCE_OPTIONAL_OPS:
        return False
    for a in node.attribute:
        if a.type == AttributeProto.TENSOR and a.t.data_type not in _SUBSET_ELEM_TYPES:
            return False
        if a.type in (AttributeProto.SPARSE_TENSOR, AttributeProto.SPARSE_TENSORS, AttributeProto.TYPE_PROTO,
                      AttributeProto.TYPE_PROTOS):
            return False
        if a.name in _TYPE_ATTRS and a.type == AttributeProto.INT and a.i not in _SUBSET_ELEM_TYPES:
            return False
        if node.op_type == "Constant" and a.type in (AttributeProto.STRING, AttributeProto.STRINGS):
            return False  # a string constant
        if a.type == AttributeProto.GRAPH and not _graph_in_subset(a.g):
            return False
        if a.type == AttributeProto.GRAPHS and not all(_graph_in_subset(g) for g in a.graphs):
            return False
    return True


def model_in_subset(model):
    """True when the model belongs to the float32 deep-learning subset (see the module docstring)."""
    if any(o.domain in _EXCLUDED_DOMAINS for o in model.opset_import):
        return False
    if not all(_node_in_subset(n) for f in model.functions for n in f.node):
        return False
    return _graph_in_subset(model.graph)


def _load_case_model(case):
    if case.model is not None:
        return case.model
    if case.model_dir is not None:
        return onnx.load(os.path.join(case.model_dir, "model.onnx"), load_external_data=False)
    if case.url and case.url.startswith("onnx/backend/test/data/light/"):
        root = os.path.dirname(os.path.dirname(onnx.__file__))
        return onnx.load(os.path.join(root, case.url))
    return None  # a model the suite would download: no network here, the suite skips it


def _all_cases():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the case generators warn about overflow in deliberate casts
        cases = []
        for kind in ("node", "real", "simple", "pytorch-converted", "pytorch-operator"):
            cases.extend(loader.load_model_tests(kind=kind))
    return cases


_CASES = _all_cases()
SUBSET = {c.name + "_cpu" for c in _CASES if (m := _load_case_model(c)) is not None and model_in_subset(m)}
OUTSIDE = {c.name + "_cpu" for c in _CASES} - SUBSET

# ---------------------------------------------------------------------------------------------------------
# The suite and its exclusions. Each pattern says why; "not implemented yet" marks subset cases we fail today.
# ---------------------------------------------------------------------------------------------------------
backend_test = onnx.backend.test.BackendTest(backend.AutoCompyuteBackend, __name__)

# CPU is what this file measures; a GPU session runs the CUDA variants with AC_ONNX_BACKEND_CUDA=1
# (scripts/gpu_checks.sh).
if not os.environ.get("AC_ONNX_BACKEND_CUDA"):
    backend_test.exclude(r"_cuda$")

EXCLUDE = {
    # -- outside the subset, deliberately unsupported --
    r"^test_(sequence|optional|split_to_sequence|concat_from_sequence|identity_sequence|identity_opt|if_seq|if_opt"
    r"|loop16_seq|loop13_seq|string|strnorm|regex|equal_string)": "sequence, optional and string values are not tensors",
    r"^test_ai_onnx_ml_": "the ai.onnx.ml domain (classical ML) is out of scope",
    r"^test_(adagrad|adam|momentum|nesterov_momentum|gradient)": "ai.onnx.preview.training: training is native",
}
# Cases we fail today, by op. Inside the subset they count as failures in the printed number.
_NOT_YET = {
    "ImageDecoder (needs image codecs)": r"^test_image_decoder",
    "Bernoulli: the expected values come from the unseeded numpy draw that wrote the test, no generator can "
    "reproduce them (random.py's seeded draws repeat; tests/test_import_random.py)": r"^test_bernoulli",
}
for _reason, _pattern in _NOT_YET.items():  # the *_expanded cases (the op as a function body) pass
    EXCLUDE["^(?!.*_expanded)" + _pattern[1:]] = f"not implemented yet: {_reason}"
# Ill-conditioned: the light squeezenet's logits are ~7e9 and the reference softmax is exactly uniform; rounding
# differences of 1e-7 relative in the logits (they match onnxruntime's within 2e-7) flip our softmax between
# uniform and one-hot depending on BLAS summation order (it passes with 2 BLAS threads, fails with 1).
EXCLUDE[r"^test_squeezenet_cpu"] = "ill-conditioned reference output (see the comment above)"
# CUDA only (scripts/gpu_checks.sh, H200 + CuPy 14.2: 1805 of the 1815 CUDA cases that run pass): rounding, not rules
EXCLUDE[r"^test_attention_4d\w*_fp16(_expanded)?_cuda$"] = (
    "float16 attention on cuBLAS differs from the reference by one float16 ulp (1e-3) in 1-5% of the values")
EXCLUDE[r"^test_dft_inverse\w*_cuda$"] = "cuFFT leaves 1.9e-7 where the reference has 0 (the suite's atol is 1e-7)"

# outside the subset: element types numpy has no dtype for
EXCLUDE[r"^test_cast(like)?_(no_saturate_|e8m0_)?FLOAT(16)?_to_(FLOAT8|FLOAT4|INT4|INT2|UINT4|UINT2|BFLOAT16)"] = (
    "float8/float4/int4/int2/bfloat16 casts: numpy has no such dtypes")
EXCLUDE[r"^test_((de)?quantizelinear_(e4m3fn|e5m2|float4e2m1)|quantizelinear_u?int[24])"] = (
    "float8/float4/int4/int2 quantised types: numpy has no such dtypes")
EXCLUDE[r"^(?!.*_expanded)test_.*(bfloat16|_bf16)"] = "bfloat16 has no numpy dtype"
EXCLUDE[r"^test_\w*(bfloat16|_bf16)\w*_expanded"] = "bfloat16 has no numpy dtype (expanded function bodies)"
EXCLUDE[r"^test_bernoulli\w*_expanded"] = "random values: see Bernoulli above"

for _pattern in EXCLUDE:
    backend_test.exclude(_pattern)

_TEST_CLASSES = backend_test.test_cases


def _items():
    suffixes = ("_cpu", "_cuda") if os.environ.get("AC_ONNX_BACKEND_CUDA") else ("_cpu",)
    out = []
    for cls in _TEST_CLASSES.values():
        for name in sorted(dir(cls)):
            if name.startswith("test_") and name.endswith(suffixes):
                out.append((cls, name))
    return out


_ITEMS = _items()
_RESULTS = {}  # case name -> "passed" | "failed" | "skipped"


@pytest.fixture(scope="module", autouse=True)
def _summary():
    yield
    run = [n for n in SUBSET if n in _RESULTS]
    if not run:
        return
    passed = sorted(n for n in run if _RESULTS[n] == "passed")
    bonus = sorted(n for n in OUTSIDE if _RESULTS.get(n) == "passed")
    pct = 100.0 * len(passed) / len(SUBSET)
    print(f"\nONNX backend suite, float32 deep-learning subset: {len(passed)}/{len(SUBSET)} passed ({pct:.1f}%)"
          f"{'' if len(run) == len(SUBSET) else f' [only {len(run)} of the subset were collected]'}")
    print(f"outside the subset (float16/float64/...): {len(bonus)} passed")


@pytest.mark.parametrize("cls,name", _ITEMS, ids=[name for _, name in _ITEMS])
def test_backend(cls, name):
    case = cls(name)
    _RESULTS[name] = "failed"
    try:
        getattr(case, name)()
    except unittest.SkipTest as e:
        _RESULTS[name] = "skipped"
        pytest.skip(str(e))
    _RESULTS[name] = "passed"


def test_subset_is_computed_from_models():
    """The subset classifier: float32 node cases are in, float16/double, sequences and ML domains are out."""
    assert "test_abs_cpu" in SUBSET and "test_conv_with_strides_padding_cpu" in SUBSET
    assert "test_cast_FLOAT_to_FLOAT16_cpu" not in SUBSET
    assert "test_sequence_insert_at_back_cpu" not in SUBSET
    assert "test_ai_onnx_ml_binarizer_cpu" not in SUBSET
    assert "test_max_float64_cpu" not in SUBSET
    assert 1400 < len(SUBSET) < 1800
