"""CuPy backend checks; skipped without CuPy and an NVIDIA GPU."""
import numpy as np
import pytest

import autocompyute as ac
from gradcheck import as_list
from op_cases import CASES

pytestmark = pytest.mark.gpu


def test_to_cuda_and_back_keeps_values_and_gradient():
    x = ac.randn(3, 4, dtype=ac.float64, requires_grad=True)
    y = (x.to("cuda").exp() * 2).sum()
    assert y.device == "cuda"
    y.backward()
    assert x.grad is not None and isinstance(x.grad, np.ndarray)
    np.testing.assert_allclose(x.grad, 2 * np.exp(x.numpy()), rtol=1e-12)


# Cases whose values depend on the device by design.
DEVICE_DEPENDENT = {"dropout_seeded_mask": "the mask comes from the device's own random generator"}


def test_mixed_devices_are_a_clear_error_and_scalars_follow():
    x = ac.randn(3, device="cuda", requires_grad=True)
    with pytest.raises(ac.DeviceError, match="different devices"):
        x + ac.ones(3)
    s = ac.tensor(2.0, requires_grad=True)  # a 0-d CPU tensor follows, as in PyTorch, and gets its gradient
    (x * s).sum().backward()
    assert s.grad is not None and float(s.grad) == pytest.approx(float(x.sum().item()))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_op_table_on_cuda_matches_cpu(case):
    """Every case of the op table, forward and backward in float64, on cupy against numpy."""
    if case.name in DEVICE_DEPENDENT:
        pytest.skip(DEVICE_DEPENDENT[case.name])
    arrays = case.arrays()
    results = {}
    for device in ("cpu", "cuda"):
        tensors = [ac.tensor(a, device=device, requires_grad=a.dtype.kind == "f" and case.grad) for a in arrays]
        leaves = [t for t in tensors if t.requires_grad]
        try:
            outs = as_list(case.fn(*tensors))
        except ac.DeviceError:
            pytest.skip("the case builds a constant tensor on the CPU inside its function (a clear DeviceError)")
        floats = [o for o in outs if o.dtype.kind == "f" and o.requires_grad]
        if floats:
            sum(((o * o).sum() for o in floats[1:]), (floats[0] * floats[0]).sum()).backward()
        assert all(o.device == device for o in outs), f"an output left {device}"
        results[device] = ([o.numpy() for o in outs], [t.grad for t in leaves])
    for a, b in zip(results["cpu"][0] + results["cpu"][1], results["cuda"][0] + results["cuda"][1]):
        if a is None or b is None:
            assert a is None and b is None
            continue
        b = ac.backends.to_device(b, "cpu")
        if a.dtype.kind == "f":
            np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-9)
        else:
            np.testing.assert_array_equal(b, a)
