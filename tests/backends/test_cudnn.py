import pytest

import minidl

pytestmark = pytest.mark.cpu_only


def test_settings_are_accepted_and_say_no_cudnn():
    cudnn = minidl.backends.cudnn
    before = (cudnn.benchmark, cudnn.deterministic)
    try:
        cudnn.benchmark, cudnn.deterministic = True, True
        assert minidl.backends.cudnn.benchmark and minidl.backends.cudnn.deterministic
    finally:
        cudnn.benchmark, cudnn.deterministic = before
    assert cudnn.is_available() is False and cudnn.version() is None
    assert minidl.backends.mps.is_available() is False
