#!/usr/bin/env bash
# The checks that need an NVIDIA GPU with CuPy (CI has none; run by hand on such a machine, from the repository
# root): the CuPy tests, then the ONNX backend suite's CUDA variants (CHECKS="tests" or "backend" runs one).
# Full logs go to $OUT (default gpu-logs/).
set -u
out=${OUT:-gpu-logs}
mkdir -p "$out"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
python3 -c "import cupy, numpy, onnx, onnxruntime, autocompyute as ac; print('cupy', cupy.__version__, 'numpy',
numpy.__version__, 'onnx', onnx.__version__, 'ort', onnxruntime.__version__, 'cuda', ac.cuda_available())"
checks=${CHECKS:-tests backend}
if [[ $checks == *tests* ]]; then
echo "== CuPy tests"
timeout "${GPU_TESTS_S:-300}" python3 -m pytest -q -p no:cacheprovider -rfs --tb=short -n 8 tests/test_gpu.py \
  tests/test_nn_gpu.py tests/test_gpu_conv_rnn.py tests/test_import_gpu.py tests/test_autograd.py \
  tests/test_engine_extra.py >"$out/gpu_tests.log" 2>&1
echo "exit $?"; grep -E "^(FAILED|ERROR)|passed|failed" "$out/gpu_tests.log" | tail -40
fi
if [[ $checks == *backend* ]]; then
echo "== ONNX backend suite, CUDA variants"
AC_ONNX_BACKEND_CUDA=1 timeout "${BACKEND_S:-200}" python3 -m pytest -q -p no:cacheprovider -rf --tb=line -n 8 \
  tests/test_onnx_backend.py -k _cuda >"$out/backend_cuda.log" 2>&1
echo "exit $?"; grep -E "passed|failed" "$out/backend_cuda.log" | tail -3
grep -E "^FAILED" "$out/backend_cuda.log" | sed -E 's/ - .*//' | head -60
fi
