"""Data parallelism on this machine, and the ring all-reduce cost model for bigger ones.

    python benchmarks/distributed.py          # writes benchmarks/results/distributed.md
    python benchmarks/distributed.py --models lenet5_bn --repeats 1 --out /tmp/d.md

1. Measured: training steps (forward, cross-entropy, backward, SGD with momentum) on the
   same total batch, either by 1 process whose BLAS uses 2 threads, or by 2 MPI processes
   of 1 thread each, every one on half of the batch, averaging gradients with
   DistributedDataParallel; and, for reference, by 1 process on 1 thread. Reported: images/s of the whole job and the time one step's
   gradient averaging takes when run alone (DDP's buckets all-reduced, waited for, and
   nothing else running), which is what the 2 processes pay for their parallelism. The
   two set-ups alternate, ``--repeats`` times, so that other work on the machine slows
   both alike; the table gives the median and the range.
2. Predicted: the bytes each rank sends per step in a ring all-reduce of a model's
   gradients, 2 (N - 1) / N times their size, and the time that takes on 10 and
   100 Gbit/s links, for ResNet-18 and ResNet-50 (their parameter counts from the zoo).
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

BATCHES = {'lenet5_bn': (64, 28, 1), 'resnet18': (32, 32, 3)}   # total batch, size, channels
STEPS = {'lenet5_bn': 30, 'resnet18': 6}
WARMUP = 2


# ---------------------------------------------------------------- one run (a worker)

def _blas_threads():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return max((pool['num_threads'] for pool in threadpool_info()
                if pool.get('user_api') == 'blas'), default=None)


def worker(model_name, steps, distributed):
    """Time ``steps`` training steps; rank 0 prints one JSON line."""
    import numpy as np
    import minidl
    import minidl.distributed as dist
    from minidl import models
    from minidl import functional as F
    from minidl.optim import SGD

    rank, world = 0, 1
    if distributed:
        dist.init_process_group('mpi')
        rank, world = dist.get_rank(), dist.get_world_size()
    batch, size, channels = BATCHES[model_name]
    kwargs = {'small_input': True} if model_name.startswith('resnet') else {}
    minidl.manual_seed(0)
    model = models.get_model(model_name, num_classes=10, in_channels=channels, **kwargs)
    if distributed:
        from minidl.nn.parallel import DistributedDataParallel
        model = DistributedDataParallel(model)
    optimizer = SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    rng = np.random.default_rng(rank)
    share = batch // world
    x = minidl.tensor(rng.normal(size=(share, channels, size, size)).astype(np.float32))
    y = minidl.tensor(rng.integers(0, 10, size=share))

    def step():
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def sync():
        if distributed:
            dist.barrier()

    for _ in range(WARMUP):
        step()
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    step_seconds = (time.perf_counter() - start) / steps
    result = {'model': model_name, 'processes': world, 'blas_threads': _blas_threads(),
              'batch': batch, 'step_s': step_seconds, 'images_per_s': batch / step_seconds,
              'gradient_bytes': sum(p.array.nbytes for p in model.parameters())}
    if distributed:
        # the averaging of one step alone: DDP's buckets (its flat gradient buffers, a
        # private attribute read here only to time exactly what DDP sends)
        group, buffers = dist.group.WORLD, [b.buffer for b in model._buckets]
        times = []
        for _ in range(10):
            sync()
            start = time.perf_counter()
            for work in [group.all_reduce(buffer, 'avg') for buffer in buffers]:
                work.wait()
            times.append(time.perf_counter() - start)
        result['comm_s'] = statistics.median(times)
        result['buckets'] = len(buffers)
        dist.destroy_process_group()
    if rank == 0:
        print(json.dumps(result), flush=True)


# ---------------------------------------------------------------- the measurements

SETUPS = ((1, 2, '1 process × 2 BLAS threads'), (2, 1, '2 processes × 1 thread (DDP)'),
          (1, 1, '1 process × 1 thread (for reference)'))


def _run(model_name, steps, processes, threads):
    from minidl.distributed.launch import mpiexec_command
    threads = str(threads)
    env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads,
               MKL_NUM_THREADS=threads, PYTHONPATH=str(HERE.parent))
    command = [sys.executable, str(Path(__file__).resolve()), '--worker', model_name,
               '--steps', str(steps)]
    if processes > 1:
        command = mpiexec_command(processes, *command, '--distributed')
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(model_names, repeats):
    rows = []
    for name in model_names:
        runs = {setup: [] for setup in SETUPS}
        loads = []
        for _ in range(repeats):
            for setup in SETUPS:
                loads.append(os.getloadavg()[0])
                runs[setup].append(_run(name, STEPS[name], *setup[:2]))
                print(name, setup[2], runs[setup][-1], file=sys.stderr)
        rows.append((name, runs, loads))
    return rows


# ---------------------------------------------------------------- the cost model

def ring_bytes_per_rank(gradient_bytes, nodes):
    """Bytes each rank sends in a ring all-reduce: reduce-scatter, then all-gather, each
    N - 1 steps of one N-th of the data."""
    return 2 * (nodes - 1) / nodes * gradient_bytes


def predictions():
    from minidl import models
    lines = ['| model | parameters | gradient (float32) | nodes | sent per rank per step | '
             '10 Gbit/s | 100 Gbit/s |', '|---|---:|---:|---:|---:|---:|---:|']
    for name in ('resnet18', 'resnet50'):
        params = sum(p.numel() for p in models.get_model(name).parameters())
        size = 4 * params
        for nodes in (8, 64):
            sent = ring_bytes_per_rank(size, nodes)
            times = [sent * 8 / (gbit * 1e9) * 1e3 for gbit in (10, 100)]
            lines.append(f'| {name} | {params:,} | {size / 1e6:.1f} MB | {nodes} | '
                         f'{sent / 1e6:.1f} MB | {times[0]:.1f} ms | {times[1]:.1f} ms |')
    return lines


# ---------------------------------------------------------------- the report

def _spread(values, fmt):
    if fmt == 'rate':      # images/s: whole numbers, one decimal below 100
        fmt = '{:.0f}' if min(values) >= 100 else '{:.1f}'
    return (f'{fmt.format(statistics.median(values))} '
            f'({fmt.format(min(values))}–{fmt.format(max(values))})')


def report(rows, repeats):
    lines = [f'# Data parallelism: measured on this machine, predicted for clusters',
             '', f'`python benchmarks/distributed.py`, {datetime.date.today()}, '
             f'{platform.processor() or platform.machine()}, {os.cpu_count()} cores, '
             f'Python {platform.python_version()}; {repeats} alternating repeats of each '
             f'set-up: medians, with the range in parentheses.', '',
             '| model | total batch | set-up | images/s | step | averaging gradients '
             'alone (per step) | gradient bytes | load average |',
             '|---|---:|---|---:|---:|---:|---:|---:|']
    for name, runs, loads in rows:
        for processes, wanted_threads, setup in SETUPS:
            found = runs[(processes, wanted_threads, setup)]
            images = [r['images_per_s'] for r in found]
            steps = [1e3 * r['step_s'] for r in found]
            comm = (_spread([1e3 * r['comm_s'] for r in found], '{:.1f}') + ' ms'
                    f' ({found[0]["buckets"]} bucket{"s" if found[0]["buckets"] > 1 else ""})'
                    if processes > 1 else '–')
            threads = {r['blas_threads'] for r in found}
            seen = threads - {None}       # None: threadpoolctl is not installed
            note = '' if seen <= {wanted_threads} else f' (BLAS threads seen: {sorted(seen)})'
            lines.append(f'| {name} | {found[0]["batch"]} | {setup}{note} | '
                         f'{_spread(images, "rate")} | {_spread(steps, "{:.0f}")} ms | {comm} | '
                         f'{found[0]["gradient_bytes"] / 1e6:.2f} MB | '
                         f'{min(loads):.1f}–{max(loads):.1f} |')
    lines += ['', '## Ring all-reduce: predicted time per step', '',
              'Each rank sends (and receives) 2 (N − 1) / N of the gradient bytes per step; '
              'the time is that over the link\'s bandwidth (latency, 2 (N − 1) messages per '
              'bucket, left out).', ''] + predictions()
    return '\n'.join(lines) + '\n'


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--models', default=','.join(BATCHES))
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--out', default=str(HERE / 'results' / 'distributed.md'))
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    parser.add_argument('--steps', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--distributed', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.steps, args.distributed)
        return
    text = report(measure(args.models.split(','), args.repeats), args.repeats)
    Path(args.out).write_text(text)
    print(text)


if __name__ == '__main__':
    main()
