import pytest

import minidl
import minidl.data
import minidl.utils.data as data
from tests.parity import require_torch

pytestmark = pytest.mark.cpu_only


def test_torch_utils_data_names_are_here_and_are_minidl_data():
    torch = require_torch()
    for name in ['Dataset', 'IterableDataset', 'TensorDataset', 'Subset', 'ConcatDataset',
                 'ChainDataset', 'random_split', 'DataLoader', 'default_collate',
                 'default_convert', 'get_worker_info', 'Sampler', 'SequentialSampler',
                 'RandomSampler', 'SubsetRandomSampler', 'WeightedRandomSampler',
                 'BatchSampler']:
        assert hasattr(torch.utils.data, name)          # a name of PyTorch's ...
        assert getattr(data, name) is getattr(minidl.data, name)   # ... with one implementation
    assert minidl.utils.data is data


def test_minidl_extras_stay_in_minidl_data():
    assert not hasattr(data, 'get_dataset') and not hasattr(data, 'transforms')
    assert set(data.__all__) <= set(minidl.data.__all__)
