"""``torch.backends.mps``: Apple's Metal backend, which minidl does not have."""


def is_available():
    """False: minidl runs on NumPy (CPU) and CuPy (CUDA GPUs) only."""
    return False


def is_built():
    return False
