"""set_num_threads / get_num_threads set and read the BLAS thread count."""
import pytest
from threadpoolctl import threadpool_limits

import minidl


def test_set_and_get_num_threads():
    with threadpool_limits(limits=None):     # whatever is set here is undone on exit
        before = minidl.get_num_threads()
        assert before >= 1
        minidl.set_num_threads(1)
        assert minidl.get_num_threads() == 1
        minidl.set_num_threads(before)
        assert minidl.get_num_threads() == before
    with pytest.raises(RuntimeError, match='set_num_threads: the number of threads must be '
                                           'positive'):
        minidl.set_num_threads(0)
