"""RMSprop, as in PyTorch."""
from .optimizer import Optimizer, _check


class RMSprop(Optimizer):
    """s = alpha * s + (1 - alpha) * g * g; centered: a = a + (1 - alpha) * (g - a), avg = sqrt(s - a * a) + eps,
    else avg = sqrt(s) + eps; with momentum: buf = momentum * buf + g / avg, p -= lr * buf; else
    p -= lr * g / avg. g = grad + weight_decay * p."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                 maximize=False):
        for name, v in (("lr", lr), ("alpha", alpha), ("eps", eps), ("weight_decay", weight_decay),
                        ("momentum", momentum)):
            _check(name, v)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def update(self, p, grad, state, group):
        xp = p.xp
        alpha = group["alpha"]
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(p.data)
            if group["momentum"]:
                state["momentum_buffer"] = xp.zeros_like(p.data)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(p.data)
        state["step"] += 1
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * p.data
        s = state["square_avg"]
        s *= alpha
        s += (1 - alpha) * grad * grad
        if group["centered"]:
            a = state["grad_avg"]
            a += (1 - alpha) * (grad - a)
            avg = xp.sqrt(s - a * a)
        else:
            avg = xp.sqrt(s)
        avg += group["eps"]
        if group["momentum"]:
            buf = state["momentum_buffer"]
            buf *= group["momentum"]
            buf += grad / avg
            p.data -= group["lr"] * buf
        else:
            p.data -= group["lr"] * (grad / avg)
