"""The import rule table: one module owns each (domain, op_type), the table does not depend on the order in
which the rule modules are imported, a second owner or a repeated version is refused, and a model's opset picks
the newest rule at or below it."""
import json
import subprocess
import sys

import pytest

pytest.importorskip("onnx")
from interop.onnx import registry  # noqa: E402
from interop.onnx.registry import IMPORT_RULES, RuleConflictError, find_import_rule, import_rule  # noqa: E402

# Ops that two modules used to register (misc.py beside a family file); each lives with its engine family now.
OWNERS = {
    "unary": ["Abs", "Cos", "Exp", "Log", "Neg", "Reciprocal", "Sin"],
    "binary": ["Add", "And", "Div", "Greater", "GreaterOrEqual", "Less", "LessOrEqual", "Max", "Min", "Mul", "Not",
               "Or", "Pow", "Sub", "Xor"],
    "reduce": ["ArgMax", "ArgMin", "LogSoftmax", "ReduceL2", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd",
               "ReduceSum", "ReduceSumSquare", "Softmax"],
    "conv": ["AveragePool", "GlobalAveragePool", "GlobalMaxPool", "MaxPool", "Resize", "Upsample"],
    "linalg": ["Gemm"],
    "movement": ["Tile"],
    "norm": ["BatchNormalization"],
    "attention": ["Attention"],
}


@pytest.fixture(scope="module", autouse=True)
def _rules():
    registry.load_rules()


def _owners(versions):
    return {fn.__module__ for _, fn in versions}


def test_each_op_type_has_one_owner_module():
    shared = {key: sorted(_owners(v)) for key, v in IMPORT_RULES.items() if len(_owners(v)) > 1}
    assert not shared, f"op types registered by more than one module: {shared}"


def test_family_ops_live_with_their_engine_family():
    for family, ops in OWNERS.items():
        for op in ops:
            assert _owners(IMPORT_RULES[("", op)]) == {f"interop.onnx.{family}"}, op


def test_versions_are_sorted_and_distinct():
    for key, versions in IMPORT_RULES.items():
        since = [s for s, _ in versions]
        assert since == sorted(set(since)), (key, since)


def test_legacy_and_intermediate_versions_are_kept():
    """The opset forms misc.py used to add (opset 1/6 attributes, axes as attribute at 11/13, ...) are there."""
    assert [s for s, _ in IMPORT_RULES[("", "ReduceMax")]] == [1, 11, 12, 13, 18, 20]
    assert [s for s, _ in IMPORT_RULES[("", "Add")]] == [1, 6, 7]
    assert [s for s, _ in IMPORT_RULES[("", "Upsample")]] == [7, 9]
    assert [s for s, _ in IMPORT_RULES[("", "BatchNormalization")]] == [1, 6, 9, 14]
    assert [s for s, _ in IMPORT_RULES[("", "Attention")]] == [23, 25]


_DUMP = """
import importlib, json, pkgutil, random, sys
import interop.onnx as pkg
from interop.onnx.registry import IMPORT_RULES
names = sorted(i.name for i in pkgutil.iter_modules(pkg.__path__) if not i.name.startswith("_")
               and i.name not in ("registry", "builder"))
order = {"reversed": names[::-1], "shuffled": random.Random(0).sample(names, len(names))}[sys.argv[1]]
for name in order:
    importlib.import_module("interop.onnx." + name)
print(json.dumps({f"{d}::{op}": [[s, f.__module__, f.__qualname__] for s, f in v]
                  for (d, op), v in sorted(IMPORT_RULES.items())}))
"""


def _table_after(order):
    out = subprocess.run([sys.executable, "-c", _DUMP, order], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_table_does_not_depend_on_import_order():
    here = {f"{d}::{op}": [[s, f.__module__, f.__qualname__] for s, f in v] for (d, op), v in IMPORT_RULES.items()
            if not d.startswith("test.")}
    for order in ("reversed", "shuffled"):
        assert _table_after(order) == here, order


def _foreign(fn, module):
    fn.__module__ = module
    return fn


def test_a_second_module_cannot_register_an_owned_op_type():
    before = list(IMPORT_RULES[("", "Relu")])
    with pytest.raises(RuleConflictError, match=r"interop\.onnx\.unary.*owns|owns.*interop\.onnx\.unary"):
        import_rule("Relu", since=99)(_foreign(lambda x: x, "interop.onnx.misc"))
    with pytest.raises(ValueError, match="interop.onnx.misc"):  # RuleConflictError is a ValueError too
        import_rule("Relu", since=6)(_foreign(lambda x: x, "interop.onnx.misc"))
    assert IMPORT_RULES[("", "Relu")] == before


def test_one_version_cannot_be_registered_twice():
    key = ("test.registry", "TwiceOp")
    try:
        import_rule("TwiceOp", since=3, domain="test.registry")(lambda x: x)
        import_rule("TwiceOp", since=5, domain="test.registry")(lambda x: x)  # another version: fine
        with pytest.raises(RuleConflictError, match="since 3 is registered twice"):
            import_rule("TwiceOp", since=3, domain="test.registry")(lambda x: -x)
        assert [s for s, _ in IMPORT_RULES[key]] == [3, 5]
    finally:
        IMPORT_RULES.pop(key, None)


def test_find_import_rule_picks_the_newest_version_at_or_below_the_opset():
    key = ("test.registry", "PickOp")
    fns = {since: (lambda x, _s=since: _s) for since in (1, 7, 13)}
    try:
        for since in (13, 1, 7):  # registration order does not matter
            import_rule("PickOp", since=since, domain="test.registry")(fns[since])
        want = {1: 1, 6: 1, 7: 7, 12: 7, 13: 13, 30: 13}
        for opset, since in want.items():
            assert find_import_rule("test.registry", "PickOp", opset) is fns[since], opset
    finally:
        IMPORT_RULES.pop(key, None)
    assert find_import_rule("test.registry", "PickOp", 13) is None


def test_find_import_rule_on_the_real_table():
    reduce_max = dict(IMPORT_RULES[("", "ReduceMax")])
    assert find_import_rule("", "ReduceMax", 17) is reduce_max[13]  # axes as an attribute
    assert find_import_rule("ai.onnx", "ReduceMax", 19) is reduce_max[18]  # axes as an input; ai.onnx == ""
    assert find_import_rule("", "ReduceMax", 25) is reduce_max[20]
    assert find_import_rule("", "Attention", 22) is None
    for key, versions in IMPORT_RULES.items():
        for i, (since, fn) in enumerate(versions):
            assert find_import_rule(*key, since) is fn
            if i + 1 < len(versions):
                assert find_import_rule(*key, versions[i + 1][0] - 1) is fn
        assert find_import_rule(*key, versions[0][0] - 1) is None
