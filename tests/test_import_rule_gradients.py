"""Float64 finite-difference gradients through every ONNX import rule.

One table maps each op type to a small single-node model and its inputs; the test imports the node with
`interop.import_onnx` and checks the gradients of its floating-point inputs with `check_grads`. The rule table
(`interop.onnx.registry.IMPORT_RULES`) and this table are checked against each other, so a rule cannot be added
without a gradient case, or a reason why it has none (NO_GRAD).
"""
from dataclasses import dataclass, field

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import helper  # noqa: E402

from gradcheck import check_grads  # noqa: E402
from interop.importer import import_onnx  # noqa: E402
from interop.onnx.registry import load_rules  # noqa: E402
from interop.onnx.registry import IMPORT_RULES  # noqa: E402
from op_cases import Away, Distinct, P, U  # noqa: E402


@dataclass
class G:
    op: str
    inputs: tuple                 # makers (rng -> array) or fixed arrays; None for an omitted optional input
    attrs: dict = field(default_factory=dict)
    wrt: tuple = None             # input positions to check (default: every floating one)
    opset: int = None             # default: the newest opset onnx knows
    n_out: int = 1
    eps: float = 1e-6
    name: str = ""

    def arrays(self, seed=0):
        rng = np.random.default_rng(seed)
        out = []
        for make in self.inputs:
            a = None if make is None else np.asarray(make(rng) if callable(make) else make)
            out.append(a.astype(np.float64) if a is not None and a.dtype.kind == "f" else a)
        return out


def N(op, *inputs, wrt=None, opset=None, n_out=1, eps=1e-6, name="", **attrs):
    return G(op, inputs, attrs, wrt, opset, n_out, eps, name)


def i64(*v):
    return np.array(v, dtype=np.int64)


def f64(*v):
    return np.array(v, dtype=np.float64)


# Scan's body: state s and slice x -> (s + x, (s + x) * x)
_SCAN_BODY = helper.make_graph(
    [helper.make_node("Add", ["s", "x"], ["s2"]), helper.make_node("Mul", ["s2", "x"], ["y"])], "body",
    [helper.make_tensor_value_info("s", onnx.TensorProto.DOUBLE, [2]),
     helper.make_tensor_value_info("x", onnx.TensorProto.DOUBLE, [2])],
    [helper.make_tensor_value_info("s2", onnx.TensorProto.DOUBLE, [2]),
     helper.make_tensor_value_info("y", onnx.TensorProto.DOUBLE, [2])])

# one or more cases per op type with a differentiable input
GRAD_CASES = [
    # elementwise
    N("Abs", Away(3, 4)), N("Neg", U(3, 4)), N("Exp", U(3, 4)), N("Log", P(3, 4)), N("Sqrt", P(3, 4)),
    N("Sin", U(3, 4)), N("Cos", U(3, 4)), N("Tan", U(3, 4, low=-1, high=1)), N("Tanh", U(3, 4)),
    N("Sigmoid", U(3, 4)), N("Erf", U(3, 4)), N("Reciprocal", P(3, 4)), N("Relu", Away(3, 4)),
    N("Acos", U(3, 4, low=-0.9, high=0.9)), N("Asin", U(3, 4, low=-0.9, high=0.9)), N("Atan", U(3, 4)),
    N("Sinh", U(3, 4)), N("Cosh", U(3, 4)), N("Asinh", U(3, 4)), N("Acosh", P(3, 4, low=1.2, high=3)),
    N("Atanh", U(3, 4, low=-0.9, high=0.9)), N("Softsign", U(3, 4)), N("Softplus", U(3, 4)), N("Mish", U(3, 4)),
    N("Elu", Away(3, 4), alpha=0.7), N("Celu", Away(3, 4), alpha=1.3), N("Selu", Away(3, 4)),
    N("ThresholdedRelu", Away(3, 4), alpha=0.0), N("HardSigmoid", U(3, 4, low=-1, high=1)),
    N("HardSwish", U(3, 4, low=-2.9, high=2.9)), N("Swish", U(3, 4), alpha=1.5),
    N("Shrink", Away(3, 4, gap=0.6), bias=0.2, lambd=0.5), N("LeakyRelu", Away(3, 4), alpha=0.1),
    N("PRelu", Away(3, 4), U(4)), N("Gelu", U(3, 4)), N("Gelu", U(3, 4), approximate="tanh", name="tanh"),
    N("Floor", U(3, 4)), N("Ceil", U(3, 4)), N("Round", U(3, 4)), N("Sign", Away(3, 4)),
    N("Clip", U(3, 4), f64(-0.5), f64(0.7), wrt=(0,)),
    N("Add", U(3, 4), U(4)), N("Sub", U(3, 4), U(3, 1)), N("Mul", U(3, 4), U(4)), N("Div", U(3, 4), P(3, 4)),
    N("Pow", P(3, 4), U(3, 4)), N("Mod", P(3, 4, low=2, high=5), P(3, 4, low=0.7, high=1.3), fmod=1),
    N("Max", U(3, 4), U(3, 4), U(4)), N("Min", U(3, 4), U(4)), N("Sum", U(3, 4), U(3, 4)), N("Mean", U(3, 4), U(4)),
    N("Where", lambda r: r.random((3, 4)) < 0.5, U(3, 4), U(4)),
    N("Cast", U(3, 4), to=onnx.TensorProto.DOUBLE), N("CastLike", U(3, 4), f64(0.0), wrt=(0,)),
    N("Identity", U(3, 4)),
    # reductions and the softmax family
    *[N(op, U(2, 3, 4), i64(1, -1), keepdims=k, name=f"keep{k}") for op in (
        "ReduceSum", "ReduceMean", "ReduceL2", "ReduceSumSquare", "ReduceLogSumExp") for k in (0, 1)],
    N("ReduceL1", Away(2, 3, 4), i64(1)), N("ReduceProd", Away(2, 3, 4), i64(2)),
    N("ReduceLogSum", P(2, 3, 4), i64(0, 2)), N("ReduceMax", Distinct(2, 3, 4), i64(1)),
    N("ReduceMin", Distinct(2, 3, 4), i64(0, 2), keepdims=0),
    N("Softmax", U(2, 3, 4), axis=1), N("LogSoftmax", U(2, 3, 4)),
    N("Softmax", U(2, 3, 4), axis=1, opset=11, name="flattening"),
    N("LogSoftmax", U(2, 3, 4), axis=2, opset=11, name="flattening"),
    N("ReduceMax", Distinct(2, 3, 4), axes=[0, 2], opset=13, name="attribute_axes"),
    N("ReduceMean", U(2, 3, 4), axes=[-1], keepdims=0, opset=11, name="attribute_axes"),
    N("CumSum", U(3, 4), i64(1)), N("CumSum", U(3, 4), i64(0), exclusive=1, reverse=1, name="exclusive_reverse"),
    N("CumProd", Away(3, 4), i64(1), exclusive=1),
    N("TopK", Distinct(3, 5), i64(2), n_out=2), N("TopK", Distinct(3, 5), i64(3), largest=0, axis=0, n_out=2,
                                                  name="smallest"),
    N("Einsum", U(2, 3), U(3, 4), equation="ij,jk->ik"), N("Einsum", U(2, 3, 3), equation="bii->bi", name="diag"),
    # linear algebra, convolution, pooling
    N("MatMul", U(2, 3, 4), U(4, 5)), N("Gemm", U(3, 4), U(5, 4), U(5), transB=1, alpha=0.5, beta=2.0),
    N("Conv", U(1, 2, 5, 5), U(3, 2, 3, 3), U(3), pads=[1, 0, 1, 2], strides=[2, 1]),
    N("Conv", U(1, 4, 6), U(4, 2, 2), group=2, dilations=[2], auto_pad="SAME_UPPER", name="1d_grouped"),
    N("ConvTranspose", U(1, 2, 3, 3), U(2, 3, 3, 3), U(3), strides=[2, 2], output_shape=[7, 8]),
    N("MaxPool", Distinct(1, 2, 5, 5), kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
    N("MaxPool", Distinct(1, 2, 6), kernel_shape=[2], ceil_mode=1, strides=[2], dilations=[2], name="1d_ceil"),
    N("MaxPool", Distinct(1, 2, 5, 5), kernel_shape=[3, 3], pads=[0, 1, 2, 1], opset=8, name="asymmetric"),
    N("AveragePool", U(1, 2, 5, 5), kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=1),
    N("AveragePool", U(1, 2, 5, 5), kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], name="strided"),
    N("LpPool", U(1, 2, 5, 5), kernel_shape=[2, 2], p=3, strides=[2, 2]),
    N("GlobalAveragePool", U(1, 2, 3, 3)), N("GlobalMaxPool", Distinct(1, 2, 3, 3)),
    N("GlobalLpPool", Away(1, 2, 3, 3), p=2),
    N("MaxUnpool", U(1, 1, 2, 2), i64(5, 7, 13, 15).reshape(1, 1, 2, 2), kernel_shape=[2, 2], strides=[2, 2]),
    # normalisation
    N("BatchNormalization", U(2, 3, 4), U(3), U(3), U(3), P(3), epsilon=1e-3, wrt=(0, 1, 2)),
    N("LayerNormalization", U(2, 3, 4), U(4), U(4)),
    N("GroupNormalization", U(2, 4, 3), U(4), U(4), num_groups=2),
    N("InstanceNormalization", U(2, 3, 4), U(3), U(3)),
    N("RMSNormalization", U(2, 3, 4), U(4)), N("LpNormalization", U(2, 3), axis=0, p=1),
    N("MeanVarianceNormalization", U(2, 3, 2, 2)), N("LRN", U(1, 4, 2, 2), size=3, alpha=0.1),
    # losses
    N("NegativeLogLikelihoodLoss", U(3, 4, 2), i64(0, 3, 1, 1, 2, 0).reshape(3, 2), U(4), wrt=(0,),
      ignore_index=1),
    N("SoftmaxCrossEntropyLoss", U(3, 4), i64(0, 3, 1), reduction="sum", n_out=2),
    # movement and shape
    N("Reshape", U(2, 3, 4), i64(4, -1)), N("Transpose", U(2, 3, 4), perm=[2, 0, 1]),
    N("Flatten", U(2, 3, 4), axis=2), N("Squeeze", U(2, 1, 4), i64(1)), N("Unsqueeze", U(2, 4), i64(0, 3)),
    N("Concat", U(2, 3), U(2, 2), axis=1), N("Split", U(4, 3), i64(1, 3), n_out=2),
    N("Slice", U(4, 5), i64(1, -1), i64(4, 0), i64(0, 1), i64(2, -2)),
    N("Expand", U(3, 1), i64(2, 3, 4)), N("Tile", U(2, 3), i64(2, 1)), N("Trilu", U(3, 4), i64(1), upper=0),
    N("Gather", U(4, 3), i64(3, 0, 3), axis=0), N("GatherElements", U(3, 4), i64(0, 3, 3, 1, 0, 2).reshape(3, 2),
                                                  axis=1),
    N("GatherND", U(2, 3, 4), i64(0, 1, 1, 2).reshape(2, 2)),
    N("ScatterElements", U(3, 4), i64(1, 0, 2, 3).reshape(2, 2), U(2, 2), axis=1),
    N("ScatterElements", U(3, 4), i64(1, 1, 2, 3).reshape(2, 2), U(2, 2), axis=1, reduction="add", name="add"),
    N("Scatter", U(3, 4), i64(1, 0).reshape(1, 2), U(1, 2), axis=0, opset=10),
    N("ScatterND", U(4, 3), i64(2, 0).reshape(2, 1), U(2, 3)),
    N("TensorScatter", U(2, 5, 3), U(2, 2, 3), i64(1, 3), axis=1),
    N("DepthToSpace", U(1, 8, 2, 3), blocksize=2, mode="CRD"), N("SpaceToDepth", U(1, 2, 4, 6), blocksize=2),
    N("ReverseSequence", U(4, 2, 3), i64(3, 1)), N("Compress", U(3, 4), np.array([True, False, True]), axis=0),
    N("CenterCropPad", U(4, 5), i64(6, 3)),
    N("Pad", U(3, 4), i64(1, 0, 2, 1), f64(0.5), mode="constant"),
    N("Pad", U(3, 4), i64(2, 1, 1, -1), mode="reflect", name="reflect_crop"),
    N("Pad", U(3, 4), i64(1, 2, 0, 1), mode="edge", name="edge"), N("Pad", U(3, 4), i64(1, 2, 2, 1), mode="wrap",
                                                                    name="wrap"),
    N("Resize", U(1, 1, 3, 4), None, f64(1, 1, 2, 1.5), mode="linear", wrt=(0,)),
    N("Resize", U(1, 1, 4, 4), None, f64(1, 1, 0.8, 1.3), mode="linear", wrt=(0,), name="downsample",
      coordinate_transformation_mode="align_corners"),
    N("Resize", U(1, 1, 3, 4), None, None, i64(1, 1, 5, 7), mode="nearest", wrt=(0,), name="nearest_sizes"),
    N("Upsample", U(1, 1, 2, 3), f64(1, 1, 2, 2), wrt=(0,), opset=9),
    N("Upsample", U(1, 1, 2, 3), scales=[1.0, 1.0, 2.0, 1.5], mode="linear", opset=7, name="opset7"),
    N("Resize", U(1, 1, 3, 4), None, f64(1, 1, 2, 1.5), mode="cubic", wrt=(0,), name="cubic"),
    N("Dropout", U(3, 4)),
    # opset 1-6 forms (explicit broadcast attributes)
    N("Add", U(2, 3, 4), U(3), broadcast=1, axis=1, opset=6, name="legacy_axis"),
    N("Exp", U(3, 4), consumed_inputs=[0], opset=1, name="legacy"),
    N("Mul", U(2, 3, 4), U(4), broadcast=1, opset=6, name="legacy"),
    N("Gemm", U(3, 4), U(5, 4), U(5), broadcast=1, transB=1, opset=6, name="legacy"),
    N("Max", U(3, 4), U(3, 4), opset=6, name="legacy"),
    N("BatchNormalization", U(2, 3, 4), U(3), U(3), U(3), P(3), is_test=1, opset=6, name="legacy", wrt=(0, 1, 2)),
    # signal processing
    N("DFT", U(2, 6, 1), None, i64(1)), N("DFT", U(2, 5, 2), None, i64(1), inverse=1, name="inverse"),
    N("DFT", U(2, 6, 2), i64(8), i64(1), onesided=1, name="onesided_padded"),
    N("DFT", U(4, 3, 2), None, i64(0), inverse=1, onesided=1, name="irfft"),
    N("DFT", U(2, 6, 1), axis=1, opset=19, name="opset19"),
    N("STFT", U(1, 20, 1), i64(4), U(8)),
    # ops run through ONNX's function body for them
    N("SwiGLU", U(2, 4), U(2, 4), opset=28), N("AffineGrid", U(2, 2, 3), i64(2, 1, 3, 4), opset=20, wrt=(0,)),
    N("RotaryEmbedding", U(2, 4, 3, 8), U(10, 4), U(10, 4), i64(0, 2, 5, 1, 3, 9).reshape(2, 3), opset=23),
    N("CausalConvWithState", U(2, 4, 8), U(4, 1, 4), U(4), U(2, 4, 3), n_out=2, opset=27),
    N("Attention", U(1, 2, 3, 4), U(1, 2, 5, 4), U(1, 2, 5, 4), is_causal=1, left_window_size=2, opset=25,
      name="window"),
    N("Scan", U(2), U(4, 2), num_scan_inputs=1, n_out=2, body=_SCAN_BODY),
    N("Scan", np.array([3, 2], np.int32), U(2, 2), U(2, 3, 2), num_scan_inputs=1, n_out=2, body=_SCAN_BODY, opset=8,
      name="opset8_lengths"),
    # vision: gradients reach the image (and weights, bias, mask); sampling coordinates get none
    N("GridSample", U(1, 2, 4, 5), U(1, 3, 2, 2, low=-1.1, high=1.1), wrt=(0,)),
    N("GridSample", U(1, 2, 4, 5), U(1, 3, 2, 2, low=-1.3, high=1.3), mode="cubic", padding_mode="reflection",
      wrt=(0,), name="cubic_reflection"),
    N("GridSample", U(1, 1, 3, 4, 5), U(1, 2, 2, 2, 3), mode="nearest", padding_mode="border", wrt=(0,),
      name="nearest_3d"),
    N("RoiAlign", U(1, 2, 6, 6), f64(0.5, 0.5, 4.2, 3.9, 1, 0, 5, 5).reshape(2, 4), i64(0, 0), output_height=2,
      output_width=2, sampling_ratio=2, wrt=(0,)),
    N("RoiAlign", U(1, 2, 6, 6), f64(0.5, 0.5, 4.2, 3.9).reshape(1, 4), i64(0), output_height=2, output_width=3,
      mode="max", wrt=(0,), name="max"),
    N("Col2Im", U(1, 8, 6), i64(3, 4), i64(2, 2)),
    N("Col2Im", U(1, 4, 4), i64(4, 4), i64(2, 2), strides=[2, 2], dilations=[1, 1], pads=[0, 0, 0, 0],
      name="strided"),
    N("DeformConv", U(1, 2, 5, 5), U(3, 2, 2, 2), U(1, 8, 4, 4, low=-0.4, high=0.4), U(3), U(1, 4, 4, 4),
      kernel_shape=[2, 2], wrt=(0, 1, 3, 4)),
    N("Det", lambda r: r.standard_normal((2, 3, 3)) + 3 * np.eye(3)),
    N("RNN", U(3, 2, 2), U(1, 4, 2), U(1, 4, 4), U(1, 8), n_out=2, hidden_size=4),
    N("RNN", U(3, 2, 2), U(2, 4, 2), U(2, 4, 4), U(2, 8), np.array([3, 2], np.int32), U(2, 2, 4), n_out=2,
      hidden_size=4, direction="bidirectional", activations=["Relu", "Tanh"], name="bidirectional_lengths"),
    # quantisation: dequantisation is differentiable in its scale
    N("DequantizeLinear", np.array([[3, 200], [17, 0]], np.uint8), P(2), np.array([1, 5], np.uint8), axis=1,
      wrt=(1,)),
]

# op types with no floating-point input to differentiate, or whose outputs are piecewise constant
NO_GRAD = {
    **dict.fromkeys(["Shape", "Size", "Constant", "ConstantOfShape", "Range", "EyeLike", "OneHot", "NonZero",
                     "Unique"], "creates values from shapes or constants: no differentiable input"),
    **dict.fromkeys(["Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual", "And", "Or", "Xor", "Not",
                     "IsNaN", "IsInf"], "boolean output: no gradient"),
    **dict.fromkeys(["BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor", "BitwiseNot"], "integer-only op"),
    **dict.fromkeys(["ArgMax", "ArgMin", "Hardmax"], "piecewise-constant output (indices or one-hot): zero gradient"),
    **dict.fromkeys(["HannWindow", "HammingWindow", "BlackmanWindow", "MelWeightMatrix"],
                    "creates values from sizes and constants: no differentiable input"),
    "NonMaxSuppression": "integer output (selected box indices): no gradient",
    "BitCast": "reinterprets bytes: no gradient",
    **dict.fromkeys(["RandomUniform", "RandomNormal", "RandomUniformLike", "RandomNormalLike", "Bernoulli",
                     "Multinomial"], "random samples: no gradient to the inputs (tests/test_import_random.py)"),
    "TfIdfVectorizer": "integer tokens in, counts out: no differentiable input",
    **dict.fromkeys(["QuantizeLinear", "DynamicQuantizeLinear", "QLinearMatMul", "QLinearConv", "MatMulInteger",
                     "ConvInteger"], "integer (quantised) output: no gradient"),
    "LinearAttention": "ONNX's function body for it casts to float32, so float64 finite differences do not apply; "
                       "its recurrence is a Scan (gradient case above)",
    "If": "control flow: gradient through the taken branch is tested in tests/test_import.py",
    "Loop": "control flow: gradient through the iterations is tested in tests/test_import.py",
    "LSTM": "recurrent layer: gradient cases live with the importer's RNN tests",
    "GRU": "recurrent layer: gradient cases live with the importer's RNN tests",
}


def _model(case, arrays):
    names = [f"x{i}" if a is not None else "" for i, a in enumerate(arrays)]
    while names and names[-1] == "":
        names.pop()
    inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
              for n, a in zip(names, arrays) if n]
    outs = [f"y{i}" for i in range(case.n_out)]
    node = helper.make_node(case.op, names, outs, **case.attrs)
    graph = helper.make_graph([node], case.op, inputs, [helper.make_empty_tensor_value_info(o) for o in outs])
    opset = case.opset or onnx.defs.onnx_opset_version()
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), [a for a in arrays
                                                                                     if a is not None]


def _id(case):
    return case.op + (f"-{case.name}" if case.name else "")


@pytest.mark.parametrize("case", GRAD_CASES, ids=[_id(c) for c in GRAD_CASES])
def test_rule_gradient(case):
    arrays = case.arrays()
    model, given = _model(case, arrays)
    module = import_onnx(model)
    wrt = case.wrt
    if wrt is not None:  # positions among the given inputs
        present = [i for i, a in enumerate(arrays) if a is not None]
        wrt = [present.index(i) for i in wrt]
    check_grads(lambda *ts: module(*ts), given, wrt=wrt, eps=case.eps)


def test_every_rule_has_a_gradient_case():
    load_rules()
    rules = {op for (domain, op) in IMPORT_RULES if domain == ""}
    cased = {c.op for c in GRAD_CASES}
    missing = sorted(rules - cased - set(NO_GRAD))
    assert not missing, f"import rules without a gradient case (add one to GRAD_CASES, or a reason to NO_GRAD): {missing}"
    stale = sorted((cased | set(NO_GRAD)) - rules)
    assert not stale, f"gradient cases for op types with no import rule: {stale}"
    both = sorted(cased & set(NO_GRAD))
    assert not both, f"op types both gradient-tested and listed as having no gradient: {both}"
