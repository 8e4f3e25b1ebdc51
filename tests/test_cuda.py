"""minidl.cuda: torch.cuda's names, with and without a GPU."""
import numpy as np
import pytest

import minidl


def test_answers_without_a_gpu_as_pytorch_does():
    if minidl.cuda.is_available():
        pytest.skip('a GPU is here')
    assert minidl.cuda.device_count() == 0
    minidl.cuda.manual_seed(3)          # silently nothing, as in PyTorch
    minidl.cuda.manual_seed_all(3)
    minidl.cuda.empty_cache()
    with pytest.raises(RuntimeError, match="device 'cuda'"):
        minidl.cuda.synchronize()
    with pytest.raises(RuntimeError, match="device 'cuda'"):
        minidl.cuda.current_device()


def test_manual_seed_seeds_the_current_gpu_alone(device):
    if device != 'cuda':
        pytest.skip('needs --device cuda')
    minidl.cuda.manual_seed(11)
    a = minidl.rand(5, device='cuda').numpy()
    minidl.cuda.manual_seed(11)
    b = minidl.rand(5, device='cuda').numpy()
    np.testing.assert_array_equal(a, b)
    minidl.cuda.synchronize()
    assert minidl.cuda.device_count() >= 1 and minidl.cuda.current_device() == 0
    assert isinstance(minidl.cuda.get_device_name(), str)
