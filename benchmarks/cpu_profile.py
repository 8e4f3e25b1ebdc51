"""Where a minidl training step spends its CPU time: every operator's forward and
backward, and the part of it spent in matrix products (NumPy's matmul, i.e. BLAS).

    python benchmarks/cpu_profile.py --models resnet18 --threads 1 --steps 3
    python benchmarks/cpu_profile.py --models resnet18,densenet --threads 2

With ``--threads 1`` (minidl and BLAS on one thread) times are the main thread's CPU time
(``time.thread_time``), which a busy machine disturbs little: compare two versions of
the code this way. With more threads they are wall times. For each model it prints the
step time, the time inside the operators' forward and backward (the rest is the
engine: graph walk, gradient accumulation, optimizer), the GEMM time, and the
operators that take the most time. The timers wrap each Function's forward and backward
and numpy.matmul for the run only.
"""
import argparse
import sys
import time
from collections import defaultdict
from contextlib import contextmanager

import numpy as np

from speed import CLASSES, MODELS, minidl_step_fn, table  # noqa: E402  (benchmarks/)

import minidl  # noqa: E402
from minidl.autograd import ArrayFunction  # noqa: E402


def _all_functions(cls=ArrayFunction):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_functions(sub)


@contextmanager
def timed_operators(clock, totals):
    """Within the block, add each operator's forward and backward time to
    ``totals[(name, 'forward' | 'backward')]`` = [calls, seconds], and matmul's to
    ``totals[('GEMM (np.matmul)', 'inside')]``. Restores everything on exit."""
    patched = []

    def wrap(name, phase, fn):
        def timed(*args, **kwargs):
            start = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                entry = totals[(name, phase)]
                entry[0] += 1
                entry[1] += clock() - start
        return timed

    for cls in _all_functions():
        for phase in ('forward', 'backward'):
            if phase in vars(cls):
                original = vars(cls)[phase]
                patched.append((cls, phase, original))
                setattr(cls, phase, staticmethod(wrap(cls.__name__, phase, original.__func__)))
    matmul = np.matmul
    np.matmul = wrap('GEMM (np.matmul)', 'inside', matmul)
    try:
        yield
    finally:
        np.matmul = matmul
        for cls, phase, original in patched:
            setattr(cls, phase, original)


def profile_model(name, steps, threads, top):
    from threadpoolctl import threadpool_limits
    spec = MODELS[name]
    rng = np.random.default_rng(0)
    model = spec.build()
    x = minidl.tensor(rng.standard_normal(spec.input_shape).astype(np.float32))
    y = minidl.tensor(rng.integers(0, CLASSES, spec.input_shape[0]))
    step = minidl_step_fn(model, (x, y))
    clock = time.thread_time if threads == 1 else time.perf_counter
    totals = defaultdict(lambda: [0, 0.0])
    minidl.set_num_threads(threads)
    with threadpool_limits(threads):
        for _ in range(2):
            step()
        with timed_operators(clock, totals):
            start = clock()
            for _ in range(steps):
                step()
            whole = (clock() - start) / steps
    gemm = totals.pop(('GEMM (np.matmul)', 'inside'), [0, 0.0])[1] / steps
    ops = sum(t for _, t in totals.values()) / steps
    what = 'CPU time of the main thread' if threads == 1 else 'wall time'
    print(f'\n## {name} (batch {spec.input_shape[0]}, {threads} thread(s), {what})\n')
    print(f'step {whole * 1e3:.1f} ms; operators {ops * 1e3:.1f} ms ({ops / whole:.0%}), of '
          f'which GEMM {gemm * 1e3:.1f} ms ({gemm / whole:.0%}); outside the operators '
          f'(graph, accumulation, optimizer) {(whole - ops) * 1e3:.1f} ms\n')
    rows = [[op, phase, f'{count / steps:.0f}', f'{total / steps * 1e3:.1f}',
             f'{total / steps / whole:.0%}']
            for (op, phase), (count, total) in sorted(totals.items(), key=lambda kv: -kv[1][1])]
    print(table(['operator', 'phase', 'calls/step', 'ms/step', 'share of step'], rows[:top]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--models', default='resnet18')
    parser.add_argument('--steps', type=int, default=3)
    parser.add_argument('--threads', type=int, default=1,
                        help='minidl and BLAS threads (default 1)')
    parser.add_argument('--top', type=int, default=12)
    args = parser.parse_args(argv)
    for name in args.models.split(','):
        profile_model(name.strip(), args.steps, args.threads, args.top)
    return 0


if __name__ == '__main__':
    sys.exit(main())
