"""Import rules for control flow: If and Loop run eagerly, so gradients flow through the branch or the
iterations taken. Subgraphs see the values of the enclosing graphs by name."""
import numpy as np

import autocompyute.functional as F
from autocompyute.tensor import Tensor

from . import safety
from ._import_util import scalar
from .registry import import_rule


@import_rule("If", since=1)
def if_(cond, *, then_branch, else_branch, ctx):
    branch = then_branch if bool(scalar(cond)) else else_branch
    outs = ctx.run(branch)
    return tuple(outs) if len(outs) > 1 else outs[0]


@import_rule("Loop", since=1)
def loop(max_trip_count=None, cond=None, *carried, body, ctx):
    """Runs `body(i, cond, *carried) -> (cond, *carried, *scan_outputs)` while i < max_trip_count and cond;
    the scan outputs of each iteration are stacked along a new first axis."""
    trips = None if max_trip_count is None else int(scalar(max_trip_count))
    keep_going = True if cond is None else bool(scalar(cond))
    limit = safety.LIMITS["max_loop_iterations"]
    values, n = list(carried), len(carried)
    scans = []
    i = 0
    while keep_going and (trips is None or i < trips):
        if i >= limit:
            raise safety.UnsafeModelError(f"Loop: more than {limit:,} iterations "
                                          "(interop.onnx.safety.LIMITS['max_loop_iterations'])")
        outs = ctx.run(body, [Tensor(np.asarray(i, np.int64)), Tensor(np.asarray(keep_going)), *values])
        keep_going = bool(scalar(outs[0]))
        values = list(outs[1:1 + n])
        scans.append(outs[1 + n:])
        i += 1
    n_scan = len(body.outputs) - 1 - n
    stacked = []
    for k in range(n_scan):
        if scans:
            stacked.append(F.stack([s[k] for s in scans], 0))
        else:
            stacked.append(Tensor(np.zeros((0,), np.float32)))
    result = values + stacked
    return tuple(result) if len(result) != 1 else result[0]
