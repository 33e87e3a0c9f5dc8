"""This process's resident memory from /proc (Linux), for the benchmarks' memory columns."""


def status_bytes(field):
    """A memory field of /proc/self/status ("VmRSS", "VmHWM", ...) in bytes; NaN where there is none."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024   # kB
    except OSError:
        pass
    return float("nan")


def reset_peak():
    """Reset the peak (VmHWM) to the current RSS; False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False
