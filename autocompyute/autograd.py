"""Graph recording switches and the backward pass."""
import contextlib

from .errors import GraphError

_state = {"grad": True, "record": False}


def grad_enabled():
    return _state["grad"]


def recording():
    """True when every op links its output to its inputs (export traces graphs without grad)."""
    return _state["record"]


@contextlib.contextmanager
def _switch(key, value):
    before = _state[key]
    _state[key] = value
    try:
        yield
    finally:
        _state[key] = before


def no_grad():
    """Context manager: ops build no graph and their outputs need no gradient."""
    return _switch("grad", False)


def enable_grad():
    return _switch("grad", True)


def record_graph():
    """Context manager: link every op's output to its inputs, also without grad (used for tracing)."""
    return _switch("record", True)


def unbroadcast(xp, grad, shape):
    """Sum `grad` back to `shape`, undoing numpy broadcasting. The one place where this happens."""
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad


def _topological_ops(root_op):
    """Ops reachable from `root_op`, inputs before outputs, by an iterative depth-first walk."""
    order, seen = [], set()
    stack = [(root_op, False)]
    while stack:
        op, done = stack.pop()
        if done:
            order.append(op)
            continue
        if id(op) in seen:
            continue
        seen.add(id(op))
        stack.append((op, True))
        for parent in op.inputs:
            if parent.ctx is not None and parent.requires_grad and id(parent.ctx) not in seen:
                stack.append((parent.ctx, False))
    return order


def backward(root, grad=None, retain_graph=False):
    xp = root.xp
    if grad is None:
        if root.data.size != 1:
            raise GraphError(f"backward() on a tensor of shape {root.shape} needs an explicit gradient")
        grad = xp.ones_like(root.data)
    else:
        grad = grad.data if hasattr(grad, "data") and not hasattr(grad, "__array_interface__") else grad
        grad = xp.asarray(grad, dtype=root.dtype).reshape(root.shape)
    if not root.requires_grad:
        raise GraphError("backward() on a tensor that does not require grad (made under no_grad, or from constants)")
    if root.ctx is None:
        root._accumulate(grad)
        return
    pending = {id(root.ctx): [None] * root.ctx.n_outputs}
    pending[id(root.ctx)][root.out_index] = grad
    for op in reversed(_topological_ops(root.ctx)):
        dys = pending.pop(id(op), None)
        if dys is None:
            continue
        if op.saved is None:
            raise GraphError(f"backward through {type(op).__name__} a second time: its saved values were freed; "
                             "pass retain_graph=True to the first backward()")
        for i, out in enumerate(op.outputs):
            t = out()
            if t is not None and t._retains_grad and dys[i] is not None:
                t._accumulate(dys[i])
        dys = [dy if dy is not None else xp.zeros(shape, dtype) for dy, (shape, dtype) in zip(dys, op.out_meta)]
        grads = op.backward(*dys)
        if not retain_graph:
            op.saved = None
        for parent, g in zip(op.inputs, grads):
            if g is None or not parent.requires_grad:
                continue
            g = unbroadcast(xp, g, parent.shape)
            if g.dtype != parent.dtype:
                g = g.astype(parent.dtype)
            if parent.ctx is None:
                parent._accumulate(g)
            else:
                slots = pending.setdefault(id(parent.ctx), [None] * parent.ctx.n_outputs)
                i = parent.out_index
                slots[i] = g if slots[i] is None else slots[i] + g
