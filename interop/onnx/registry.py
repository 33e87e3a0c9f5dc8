"""The two rule tables that tie the engine to ONNX.

- Export rules, keyed by Op class: `@export_rule(ops.unary.Exp)` over `fn(g, op, inputs) -> output names`,
  where `g` is the exporter's graph builder, `op` the engine Op (its attributes say everything) and `inputs`
  the ONNX value names of its input tensors.
- Import rules, keyed by (domain, op_type, since_version): `@import_rule("Relu", since=6)`. For a model at
  opset N the rule with the largest since_version <= N is chosen. Register a new version only where the op's
  meaning changed.

Rules live beside each other by family in `interop/onnx/<family>.py`, mirroring `autocompyute/ops/<family>.py`.
"""
import bisect

EXPORT_RULES = {}
IMPORT_RULES = {}  # (domain, op_type) -> sorted list of (since_version, fn)


def export_rule(*op_classes):
    def register(fn):
        for cls in op_classes:
            EXPORT_RULES[cls] = fn
        return fn
    return register


def import_rule(op_type, since=1, domain=""):
    def register(fn):
        versions = IMPORT_RULES.setdefault((domain, op_type), [])
        versions[:] = [v for v in versions if v[0] != since]
        bisect.insort(versions, (since, fn), key=lambda v: v[0])
        return fn
    return register


def find_import_rule(domain, op_type, opset):
    """The newest rule for (domain, op_type) at or below `opset`, or None."""
    domain = "" if domain == "ai.onnx" else domain
    versions = IMPORT_RULES.get((domain, op_type), ())
    best = None
    for since, fn in versions:
        if since <= opset:
            best = fn
    return best


def load_rules():
    """Import every rule module beside this one (interop/onnx/<family>.py), so both tables are complete."""
    import importlib
    import pkgutil

    from . import __path__ as here
    for info in pkgutil.iter_modules(here):
        if info.name not in ("registry", "builder"):
            importlib.import_module(f"{__package__}.{info.name}")
