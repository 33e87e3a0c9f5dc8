"""The two rule tables that tie the engine to ONNX.

- Export rules, keyed by Op class: `@export_rule(ops.unary.Exp)` over `fn(g, op, inputs) -> output names`,
  where `g` is the exporter's graph builder, `op` the engine Op (its attributes say everything) and `inputs`
  the ONNX value names of its input tensors.
- Import rules, keyed by (domain, op_type, since_version): `@import_rule("Relu", since=6)`. For a model at
  opset N the rule with the largest since_version <= N is chosen. Register a new version only where the op's
  meaning changed.

Rules live beside each other by family in `interop/onnx/<family>.py`, mirroring `autocompyute/ops/<family>.py`.
One module owns each (domain, op_type): all its versions are registered there, so which function runs never
depends on the order in which the rule modules were imported. A second module registering the same op type,
or one version registered twice, raises RuleConflictError.
"""
import bisect
import functools

from ..errors import InteropError

EXPORT_RULES = {}
IMPORT_RULES = {}  # (domain, op_type) -> sorted list of (since_version, fn)


def export_rule(*op_classes):
    def register(fn):
        for cls in op_classes:
            EXPORT_RULES[cls] = fn
        return fn
    return register


class RuleConflictError(InteropError, ValueError):
    """Two modules register import rules for one (domain, op_type), or one module registers a version twice."""


def import_rule(op_type, since=1, domain=""):
    def register(fn):
        name = f"{domain}::{op_type}" if domain else op_type
        versions = IMPORT_RULES.setdefault((domain, op_type), [])
        for v, other in versions:
            if other.__module__ != fn.__module__:
                raise RuleConflictError(
                    f"import rule {name} (since {since}) from {fn.__module__}: {other.__module__} already owns "
                    f"{name}; one module registers every version of an op type")
            if v == since:
                raise RuleConflictError(f"import rule {name} since {since} is registered twice in {fn.__module__} "
                                        f"({other.__name__} and {fn.__name__})")
        bisect.insort(versions, (since, fn), key=lambda v: v[0])
        return fn
    return register


def canonical_domain(domain):
    """The rule tables' name of an operator domain: "" for the default one, however the model spells it."""
    return "" if domain == "ai.onnx" else domain


def find_import_rule(domain, op_type, opset):
    """The newest rule for (domain, op_type) at or below `opset`, or None."""
    domain = canonical_domain(domain)
    versions = IMPORT_RULES.get((domain, op_type), ())
    best = None
    for since, fn in versions:
        if since <= opset:
            best = fn
    return best


@functools.cache
def load_rules():
    """Import every rule module beside this one (interop/onnx/<family>.py), so both tables are complete.
    Runs once per process; later calls return at once."""
    import importlib
    import pkgutil

    from . import __path__ as here
    for info in pkgutil.iter_modules(here):
        if info.name not in ("registry", "builder") and not info.name.startswith("_"):  # _x.py: shared helpers
            importlib.import_module(f"{__package__}.{info.name}")
