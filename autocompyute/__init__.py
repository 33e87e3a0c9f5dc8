"""AutoCompyute: an eager autograd engine on NumPy (CuPy on NVIDIA GPUs)."""
from . import functional  # noqa: F401
from .autograd import enable_grad, grad_enabled, no_grad  # noqa: F401
from .backends import cuda_available  # noqa: F401
from .dtypes import bool_, float16, float32, float64, int8, int16, int32, int64, uint8  # noqa: F401
from .errors import (  # noqa: F401
    AutoCompyuteError, DeviceError, DTypeError, GraphError, IndexOutOfRangeError, ShapeError, StateDictError,
)
from .functional import *  # noqa: F401,F403
from .parallel import get_num_threads, set_num_threads  # noqa: F401
from .tensor import (  # noqa: F401
    Tensor, arange, empty, eye, full, full_like, manual_seed, ones, ones_like, rand, rand_like, randint, randint_like,
    randn, randn_like, tensor, zeros, zeros_like,
)

from . import nn, optim  # noqa: F401,E402

__version__ = "0.1.0"
