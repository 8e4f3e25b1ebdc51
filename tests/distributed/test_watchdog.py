"""A failing or stuck rank stops the others with an error naming it: never a silent hang.

Each test starts a 2-rank job in which rank 1 misbehaves after a first collective and
rank 0 goes on to the next one. ``subprocess``'s timeout makes a hang fail the test
instead of hanging the suite.
"""
import sys
import time

import pytest

from tests import mpi_job


def test_a_rank_that_raises_stops_the_others_with_an_error_naming_it():
    job = mpi_job.launch([sys.executable, __file__, 'raise'], timeout=60)
    assert job.returncode != 0
    assert 'ValueError: rank 1 gave up' in job.stderr           # its own traceback
    assert ('DistBackendError: rank 0: stopped in all_reduce #2 because rank 1 failed: '
            'ValueError: rank 1 gave up') in job.stderr
    assert 'rank 0 went past the collective' not in job.stdout


def test_a_rank_that_exits_with_an_error_status_stops_the_others():
    job = mpi_job.launch([sys.executable, __file__, 'abort'], timeout=60)
    assert job.returncode != 0
    assert 'because rank 1 failed: no data for rank 1' in job.stderr


def test_a_stuck_rank_is_named_when_the_timeout_passes():
    job = mpi_job.launch([sys.executable, __file__, 'hang'], timeout=60)
    assert job.returncode != 0
    assert ('DistBackendError: rank 0: all_reduce #2 timed out after 2 s: rank 1 did not '
            'answer (stuck outside minidl.distributed, or dead)') in job.stderr
    assert 'rank 0 went past the collective' not in job.stdout


def misbehave(how):
    import minidl
    import minidl.distributed as dist
    dist.init_process_group('mpi', timeout=60)
    t = minidl.ones(3)
    dist.all_reduce(t)                            # all_reduce #1: both ranks are here
    # now a short timeout (set after the start, which a busy machine may make slow). A
    # failing rank waits for the others to report its failure before it ends the job: on
    # a loaded machine that can take seconds, and the wait ends as soon as they answer.
    # A stuck rank never answers, so there the wait for answers is short.
    watchdog = dist.group.WORLD.watchdog
    watchdog.timeout, watchdog.answer_seconds = 2.0, (1.0 if how == 'hang' else 15.0)
    if dist.get_rank() == 1:
        if how == 'raise':
            raise ValueError('rank 1 gave up')
        if how == 'abort':                        # what `minidl train` does on an error
            dist.abort('no data for rank 1', 2)
        time.sleep(50)                            # 'hang': never joins all_reduce #2
    dist.all_reduce(t)
    print('rank 0 went past the collective', flush=True)


if __name__ == '__main__':
    misbehave(sys.argv[1])
