"""Speed and memory of a training step: minidl against PyTorch on the same machine.

    python benchmarks/speed.py                       # all models, writes benchmarks/results/cpu.md
    python benchmarks/speed.py --models resnet18 --steps 9
    python benchmarks/speed.py --quick --models lenet5 --out /tmp/quick.md   # smoke test

Three sections, each minidl beside PyTorch in one process (PyTorch on as many threads as
NumPy's BLAS uses, so both get the same cores):

1. One training step (zero_grad, forward, cross-entropy, backward, SGD with momentum 0.9
   and weight decay 5e-4) per model. Both frameworks hold the same weights (minidl's,
   loaded into the torch.nn twin of tests/models/torch_twins.py; the outputs are asserted
   equal once), warm up, then run alternately so that a busy machine slows both alike;
   the table gives medians and minidl / PyTorch.
2. Every convolution of ResNet-18 (CIFAR stem, batch 32) alone: forward and backward
   GFLOP/s (2*MACs forward; 4*MACs backward = input gradient + weight gradient) against
   the float32 GEMM rate of NumPy's matmul measured in the same run (the roofline of an
   im2col engine), and PyTorch's rate for the same layer.
3. Peak memory of a training step: the resident-set high-water mark (ru_maxrss) of a
   fresh subprocess running only that model (Linux VmHWM, ru_maxrss elsewhere), minus
   its baseline after imports, for
   minidl and for PyTorch; and minidl's own traced peak
   (minidl.profile.measure_training_peak: tracemalloc on the CPU).

``--device cuda`` runs sections 1 and 2 on the GPU (CuPy and torch.cuda, synchronising
before every clock reading) and reports PyTorch's max_memory_allocated and minidl's
CuPy-pool peak in section 3.
"""
import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# PyTorch's OpenMP threads otherwise spin after each parallel region, taking the cores
# from NumPy's BLAS threads in the next minidl step (and BLAS's spinning threads do the
# same to PyTorch): with passive waiting, alternating runs do not slow each other down
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import minidl  # noqa: E402
from minidl import models, nn, optim  # noqa: E402
from minidl import functional as F  # noqa: E402

LR, MOMENTUM, WEIGHT_DECAY = 0.01, 0.9, 5e-4
CLASSES = 10


# ---------------------------------------------------------------- the models

# Each network is one expression over a model zoo and its layer library: minidl's
# (minidl.models, minidl.nn) or its PyTorch twin's (tests/models/torch_twins.py, torch.nn),
# which share class names, arguments and state_dict keys.

def _with_head(nn, block, channels):
    """block, global average pool, flatten, linear (keys 0.*, 3.*): a trainable classifier."""
    return nn.Sequential(block, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
                         nn.Linear(channels, CLASSES))


def _inception(zoo, nn):
    return _with_head(nn, zoo.Inception(192, 64, 96, 128, 16, 32, 32), 256)


def _mobilenet_stage(zoo, nn):
    return _with_head(nn, nn.Sequential(zoo.DepthwiseSeparableConv(128, 256),
                                        zoo.DepthwiseSeparableConv(256, 256),
                                        zoo.DepthwiseSeparableConv(256, 256)), 256)


def _dense_block(zoo, nn):
    return _with_head(nn, zoo.DenseBlock(6, 64, bn_size=4, growth_rate=32), 64 + 6 * 32)


@dataclass
class Spec:
    label: str
    network: object        # (zoo, nn) -> module
    input_shape: tuple     # (N, C, H, W) on the CPU
    cuda_batch: int = 0    # the batch on a GPU (0: not run there by default)

    def build(self):
        """The minidl model."""
        return self.network(models, nn)

    def build_twin(self):
        """The same network in torch.nn (tests/models/torch_twins.py)."""
        import torch
        from tests.models import torch_twins
        return self.network(torch_twins, torch.nn)

    def shape(self, device):
        if device == 'cuda':
            return (self.cuda_batch or self.input_shape[0],) + self.input_shape[1:]
        return self.input_shape


MODELS = {
    'lenet5': Spec('LeNet-5', lambda zoo, nn: zoo.lenet5(num_classes=CLASSES),
                   (256, 1, 28, 28)),
    'resnet18': Spec('ResNet-18, CIFAR stem',
                     lambda zoo, nn: zoo.resnet18(num_classes=CLASSES, small_input=True),
                     (32, 3, 32, 32), cuda_batch=128),
    'alexnet': Spec('AlexNet (2012: LRN, dropout), 1 channel',
                    lambda zoo, nn: zoo.alexnet_2012(num_classes=CLASSES, in_channels=1),
                    (32, 1, 96, 96), cuda_batch=128),
    'inception': Spec('Inception block 3a, 192->256', _inception, (16, 192, 28, 28),
                      cuda_batch=128),
    'mobilenet': Spec('MobileNet v1 stage, 3 dw-separable blocks 128->256', _mobilenet_stage,
                      (16, 128, 28, 28)),
    'densenet': Spec('DenseNet block, 6 layers, growth 32, 64->256', _dense_block,
                     (16, 64, 28, 28), cuda_batch=64),
    'mobilenet_v1': Spec('MobileNet v1, whole network, 224x224',
                         lambda zoo, nn: zoo.mobilenet_v1(num_classes=CLASSES),
                         (8, 3, 224, 224), cuda_batch=64),
}
CPU_MODELS = ('lenet5', 'resnet18', 'alexnet', 'inception', 'mobilenet', 'densenet')
CUDA_MODELS = tuple(name for name, spec in MODELS.items() if spec.cuda_batch)
QUICK_BATCH = 4
# targets (issue 15): minidl / PyTorch step time and peak memory, 3x3 conv fwd+bwd rate
STEP_TARGET = {'cpu': 1.3, 'cuda': 2.0}
MEMORY_TARGET = {'cpu': 1.2, 'cuda': 1.5}
LAYER_TARGET = 0.75


# ---------------------------------------------------------------- device plumbing

class Runner:
    """Places arrays and models on the device and waits for it before a clock reading."""

    def __init__(self, device):
        self.device = device
        self.cuda = device == 'cuda'
        if self.cuda:
            import torch
            # full float32 in both: no TF32 in cuBLAS or cuDNN (CuPy uses none unless
            # CUPY_TF32=1, which must be set before CuPy is imported)
            os.environ['CUPY_TF32'] = '0'
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cudnn.benchmark = False

    def sync(self):
        if self.cuda:
            import cupy
            import torch
            cupy.cuda.Device().synchronize()
            torch.cuda.synchronize()

    def minidl_array(self, array):
        return minidl.tensor(array, device=self.device)

    def torch_array(self, array):
        import torch
        return torch.from_numpy(np.ascontiguousarray(array)).to(self.device)

    def timed(self, fn):
        """Seconds ``fn()`` takes. On a GPU, device events recorded on the default stream
        around it (both frameworks queue their kernels there), the device drained first."""
        self.sync()
        if self.cuda:
            import cupy
            start, stop = cupy.cuda.Event(), cupy.cuda.Event()
            start.record()
            fn()
            stop.record()
            self.sync()
            return cupy.cuda.get_elapsed_time(start, stop) / 1e3
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start


_blas_limit = None   # threadpoolctl's limit while --threads holds


def set_threads(threads=None):
    """PyTorch and minidl on ``threads`` threads, and NumPy's BLAS limited to them (None:
    as many as BLAS uses, the cores)."""
    global _blas_limit
    import torch
    if threads:
        from threadpoolctl import threadpool_limits
        _blas_limit = threadpool_limits(threads, user_api='blas')
    threads = threads or blas_threads()[0]
    torch.set_num_threads(threads)
    minidl.set_num_threads(threads)


def blas_threads():
    """Threads NumPy's BLAS uses (threadpoolctl when installed, else the CPU count)."""
    try:
        from threadpoolctl import threadpool_info
        for pool in threadpool_info():
            if pool.get('user_api') == 'blas':
                return pool['num_threads'], f"{pool.get('internal_api')} {pool.get('version')}"
    except ImportError:
        pass
    return os.cpu_count(), 'unknown BLAS'


def machine_lines(device):
    import torch
    cpu = platform.processor() or 'unknown CPU'
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    threads, blas = blas_threads()
    lines = [f'- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC',
             f'- CPU: {cpu}, {os.cpu_count()} cores; load average at start '
             f'{" / ".join(f"{v:.2f}" for v in os.getloadavg())} (1/5/15 min)',
             f'- NumPy {np.__version__} with {blas} on {threads} threads; minidl on '
             f'{minidl.get_num_threads()} threads; '
             f'PyTorch {torch.__version__} on {torch.get_num_threads()} threads; '
             f'Python {platform.python_version()}']
    if device == 'cuda':
        import cupy
        props = cupy.cuda.runtime.getDeviceProperties(0)
        driver = cupy.cuda.runtime.driverGetVersion()
        runtime = cupy.cuda.runtime.runtimeGetVersion()
        lines.append(f'- GPU: {torch.cuda.get_device_name()} ({props["multiProcessorCount"]} SMs, '
                     f'{props["totalGlobalMem"] / 2**30:.0f} GiB); CUDA driver API '
                     f'{driver // 1000}.{driver % 1000 // 10}, CuPy {cupy.__version__} on CUDA '
                     f'runtime {runtime // 1000}.{runtime % 1000 // 10}, PyTorch CUDA '
                     f'{torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}; TF32 off in '
                     f'both; minidl CUDA kernels '
                     f'{"on" if minidl.backend.use_cuda_kernels else "off"}')
    return lines


# ---------------------------------------------------------------- 1. training steps

def make_pair(name, runner, batch):
    """(minidl model, torch twin with minidl's weights, minidl input, target, torch input,
    target, max relative output difference)."""
    import torch
    from tests.models.common import randomize_batch_norm
    from tests.models.torch_twins import torch_state_dict
    spec = MODELS[name]
    model = spec.build()
    twin = spec.build_twin()
    twin.load_state_dict(torch_state_dict(model))
    assert set(model.state_dict()) == set(twin.state_dict()), f'{name}: state_dict keys differ'
    # batch norm's fresh statistics (mean 0, variance 1) can leave a deep net's
    # evaluation output constant, which any two networks agree on: randomise them
    randomize_batch_norm(twin)
    model.load_state_dict(twin.state_dict())
    model.to(runner.device)
    twin.to(runner.device)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch,) + spec.input_shape[1:]).astype(np.float32)
    y = rng.integers(0, CLASSES, batch)
    mx, my = runner.minidl_array(x), runner.minidl_array(y)
    tx, ty = runner.torch_array(x), runner.torch_array(y)
    # the same weights compute the same thing (evaluation mode: dropout off)
    model.eval()
    twin.eval()
    with minidl.no_grad(), torch.no_grad():
        ours = _host(model(mx).array)
        theirs = twin(tx).cpu().numpy()
    diff = float(np.abs(ours - theirs).max() / max(np.abs(theirs).max(), 1e-12))
    assert diff < 1e-3, f'{name}: minidl and PyTorch outputs differ (max relative diff {diff:.2e})'
    model.train()
    twin.train()
    return model, twin, (mx, my), (tx, ty), diff


def _host(array):
    return array.get() if hasattr(array, 'get') else np.asarray(array)


def minidl_step_fn(model, batch):
    x, y = batch
    opt = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return step


def torch_step_fn(model, batch):
    import torch
    x, y = batch
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM,
                          weight_decay=WEIGHT_DECAY)

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return step


def alternate(runner, fns, steps, warmup):
    """Warm each function up, then time them in turn ``steps`` times; median seconds each."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    times = [[] for _ in fns]
    for _ in range(steps):
        for fn, t in zip(fns, times):
            t.append(runner.timed(fn))
    return [statistics.median(t) for t in times]


def step_section(names, runner, args):
    rows, results = [], {}
    for name in names:
        spec = MODELS[name]
        batch = QUICK_BATCH if args.quick else spec.shape(runner.device)[0]
        model, twin, mb, tb, diff = make_pair(name, runner, batch)
        ours, theirs = alternate(runner, [minidl_step_fn(model, mb), torch_step_fn(twin, tb)],
                                 args.steps, args.warmup)
        ratio = ours / theirs
        target = STEP_TARGET[runner.device]
        results[name] = dict(minidl_s=ours, torch_s=theirs, ratio=ratio, output_diff=diff)
        shape = 'x'.join(str(s) for s in spec.input_shape[1:])
        rows.append([name, spec.label, f'{batch}, {shape}', f'{ours * 1e3:,.1f}',
                     f'{theirs * 1e3:,.1f}', f'{ratio:.2f}', f'{target:.1f}',
                     'met' if ratio <= target else 'missed', f'yes ({diff:.1e})'])
        print(f'  {name}: minidl {ours * 1e3:,.1f} ms, PyTorch {theirs * 1e3:,.1f} ms, '
              f'ratio {ratio:.2f}', file=sys.stderr, flush=True)
    header = ['model', 'network', 'batch, input', 'minidl step (ms)', 'PyTorch step (ms)',
              'minidl / PyTorch', 'target', 'met?', 'outputs agree (max rel. diff)']
    return table(header, rows), results


# ---------------------------------------------------------------- 2. convolution layers

def layer_batch(device):
    return 128 if device == 'cuda' else 32


def resnet18_convs(batch):
    """(name, module, input shape, needs input gradient) of every conv of ResNet-18 (CIFAR)."""
    model = MODELS['resnet18'].build()
    found = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            module.register_forward_hook(
                lambda m, inputs, out, name=name: found.append((name, m, tuple(inputs[0].shape))))
    with minidl.no_grad():
        model(minidl.zeros((batch, 3, 32, 32)))
    return [(name, m, shape, name != 'conv1') for name, m, shape in found]


def gemm_rate(runner, size, repeats=5):
    """Seconds of a float32 (M, K) @ (K, N) matmul, ``repeats`` times each way: on the CPU
    as {'numpy': NumPy's matmul on BLAS's own threads, 'minidl': minidl.backend.matmul
    (the columns split over minidl's threads, BLAS on one thread in each)}; on a GPU
    {'cupy': CuPy's matmul}."""
    m, k, n = size
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    if runner.cuda:
        import cupy
        a, b = cupy.asarray(a), cupy.asarray(b)
        ways = {'cupy': cupy.matmul}
    else:
        ways = {'minidl': minidl.backend.matmul, 'numpy': np.matmul}
    times = {}
    for name, matmul in ways.items():
        matmul(a, b)
        times[name] = [runner.timed(lambda: matmul(a, b)) for _ in range(repeats)]
    if not runner.cuda:
        # OpenBLAS's threads spin ~0.1 s after NumPy's matmul, taking the cores from
        # whatever runs next: let them sleep before anything else is timed
        time.sleep(0.3)
    return times


def _add_times(total, more):
    for name, times in more.items():
        total.setdefault(name, []).extend(times)
    return total


def layer_section(runner, args):
    import torch
    batch = 2 if args.quick else layer_batch(runner.device)
    layers = resnet18_convs(batch)
    if args.quick:
        layers = layers[:2]
    # the forward GEMM of layer2's 3x3 convs: (Cout, Cin*9) @ (Cin*9, N*16*16)
    gemm = (128, 128 * 9, batch * 16 * 16)
    gemm_times = gemm_rate(runner, gemm)   # {way: [seconds]}
    rng = np.random.default_rng(0)
    rows, fractions = [], {}
    repeats = max(3, args.steps)
    for name, module, shape, need_x in layers:
        w = module.weight.array
        kh, kw = w.shape[2:]
        out_h = (shape[2] + 2 * module.padding[0] - kh) // module.stride[0] + 1
        out_w = (shape[3] + 2 * module.padding[1] - kw) // module.stride[1] + 1
        out_shape = (shape[0], w.shape[0], out_h, out_w)
        macs = int(np.prod(out_shape)) * int(np.prod(w.shape[1:]))
        x_np = rng.standard_normal(shape).astype(np.float32)
        g_np = rng.standard_normal(out_shape).astype(np.float32)
        w_np = _host(w)
        conf = dict(stride=module.stride, padding=module.padding)

        def ours():
            x = runner.minidl_array(x_np)
            x.requires_grad_(need_x)
            weight = runner.minidl_array(w_np)
            weight.requires_grad_(True)
            g = runner.minidl_array(g_np)
            times = {}
            times['fwd'] = runner.timed(lambda: times.update(out=F.conv2d(x, weight, **conf)))
            times['bwd'] = runner.timed(lambda: times['out'].backward(g))
            return times

        def theirs():
            x = runner.torch_array(x_np).requires_grad_(need_x)
            weight = runner.torch_array(w_np).requires_grad_(True)
            g = runner.torch_array(g_np)
            times = {}
            times['fwd'] = runner.timed(lambda: times.update(
                out=torch.nn.functional.conv2d(x, weight, **conf)))
            times['bwd'] = runner.timed(lambda: times['out'].backward(g))
            return times

        ours(), theirs()  # warm-up
        runs = {'minidl': [], 'torch': []}
        for _ in range(repeats):
            runs['minidl'].append(ours())
            runs['torch'].append(theirs())
        _add_times(gemm_times, gemm_rate(runner, gemm, repeats=2))  # the load may change
        back_macs = (2 if need_x else 1) * macs   # input gradient + weight gradient
        rates = {}
        for who, r in runs.items():
            fwd = statistics.median(t['fwd'] for t in r)
            bwd = statistics.median(t['bwd'] for t in r)
            rates[who] = (2 * macs / fwd / 1e9, 2 * back_macs / bwd / 1e9,
                          2 * (macs + back_macs) / (fwd + bwd) / 1e9)
        rows.append((name, shape, (kh, kw), module.stride, macs, rates))
        print(f'  {name}: minidl {rates["minidl"][2]:.1f} GFLOP/s, PyTorch '
              f'{rates["torch"][2]:.1f} GFLOP/s (fwd+bwd)', file=sys.stderr, flush=True)
    _add_times(gemm_times, gemm_rate(runner, gemm))  # again after the layers
    rates = {name: 2 * gemm[0] * gemm[1] * gemm[2] / statistics.median(times) / 1e9
             for name, times in gemm_times.items()}
    way = max(rates, key=rates.get)
    peak = rates[way]
    described = {'cupy': 'cuBLAS through CuPy matmul',
                 'numpy': "NumPy's matmul on BLAS's own threads",
                 'minidl': "minidl.backend.matmul (BLAS on one thread in each of minidl's)"}
    runs = len(gemm_times[way])
    lines = [f'float32 GEMM rate of ({gemm[0]}x{gemm[1]}) @ ({gemm[1]}x{gemm[2]}) (layer2\'s '
             f'forward GEMM), median of {runs} runs before, between and after the layers, '
             f'the faster way: **{peak:.1f} GFLOP/s** ({described[way]}; '
             + ', '.join(f'{described[name].split(" (")[0]} {rate:.1f}'
                         for name, rate in rates.items()) + ')', '']
    table_rows = []
    for name, shape, kernel, stride, macs, rates in rows:
        ours, theirs = rates['minidl'], rates['torch']
        fraction = ours[2] / peak
        if kernel == (3, 3):
            fractions[name] = fraction
        table_rows.append([name, 'x'.join(map(str, shape)), f'{kernel[0]}x{kernel[1]}/{stride[0]}',
                           f'{macs / 1e6:,.0f}', f'{ours[0]:.1f}', f'{ours[1]:.1f}',
                           f'{ours[2]:.1f}', f'{fraction:.0%}', f'{theirs[0]:.1f}',
                           f'{theirs[1]:.1f}', f'{theirs[2]:.1f}', f'{ours[2] / theirs[2]:.2f}'])
    header = ['layer', 'input', 'kernel/stride', 'MMACs', 'minidl fwd GF/s', 'minidl bwd GF/s',
              'minidl fwd+bwd GF/s', 'of GEMM rate', 'PyTorch fwd GF/s', 'PyTorch bwd GF/s',
              'PyTorch fwd+bwd GF/s', 'minidl / PyTorch rate']
    lines.append(table(header, table_rows))
    if fractions:
        lines += ['', f'3x3 layers, fwd+bwd: median {statistics.median(fractions.values()):.0%} '
                      f'of the GEMM rate (lowest {min(fractions.values()):.0%}); target '
                      f'{LAYER_TARGET:.0%} for every one.']
    return '\n'.join(lines), dict(gemm_gflops=peak, fractions=fractions)


# ---------------------------------------------------------------- 3. memory

def _proc_status(field):
    """A /proc/self/status figure in bytes (Linux), or None."""
    try:
        for line in Path('/proc/self/status').read_text().splitlines():
            if line.startswith(field + ':'):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def peak_rss():
    """This process's resident-set high-water mark in bytes. Linux's VmHWM belongs to this
    program; ru_maxrss (the fallback elsewhere) also counts the parent's peak before exec,
    which here is the large benchmark process itself."""
    hwm = _proc_status('VmHWM')
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def reset_peak_rss():
    """Restart the high-water mark at the current RSS where Linux allows it (writing 5 to
    /proc/self/clear_refs); returns the baseline to subtract from ``peak_rss()``."""
    try:
        Path('/proc/self/clear_refs').write_text('5')
        return _proc_status('VmRSS')
    except OSError:
        return peak_rss()


def memory_child(framework, name, steps, quick, device, threads):
    """Runs in a fresh process: the RSS high-water mark of ``steps`` training steps of one
    model, minus the mark after imports (bytes); minidl adds its traced peak."""
    runner = Runner(device)
    set_threads(threads)
    if framework == 'torch':
        import torch
        from tests.models import torch_twins  # noqa: F401  (imported before the baseline)
    base = reset_peak_rss()
    spec = MODELS[name]
    batch = QUICK_BATCH if quick else spec.shape(device)[0]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch,) + spec.input_shape[1:]).astype(np.float32)
    y = rng.integers(0, CLASSES, batch)
    if framework == 'torch':
        model = spec.build_twin().to(device)
        data = (runner.torch_array(x), runner.torch_array(y))
        step = torch_step_fn(model, data)
        if runner.cuda:
            torch.cuda.reset_peak_memory_stats()
    else:
        model = spec.build().to(device)
        data = (runner.minidl_array(x), runner.minidl_array(y))
        step = minidl_step_fn(model, data)
    for _ in range(steps):
        step()
    runner.sync()
    result = {'rss_bytes': peak_rss() - base}
    if framework == 'torch' and runner.cuda:
        result['device_bytes'] = torch.cuda.max_memory_allocated()
    if framework == 'minidl':
        from minidl.profile import measure_training_peak
        peak, tool = measure_training_peak(model, (data[0],), target=data[1], lr=LR,
                                           momentum=MOMENTUM)
        result.update(traced_bytes=peak, tool=tool)
    print(json.dumps(result))


def run_child(framework, name, args):
    command = [sys.executable, str(Path(__file__).resolve()), '--memory-child', framework, name,
               '--steps', str(2 if args.quick else 3), '--device', args.device]
    if args.threads:
        command += ['--threads', str(args.threads)]
    if args.quick:
        command.append('--quick')
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def memory_section(names, args):
    rows, results = [], {}
    for name in names:
        ours, theirs = run_child('minidl', name, args), run_child('torch', name, args)
        key = 'device_bytes' if args.device == 'cuda' else 'rss_bytes'
        mine = ours['traced_bytes'] if args.device == 'cuda' else ours['rss_bytes']
        ratio = mine / max(theirs[key], 1)
        results[name] = dict(minidl_bytes=mine, torch_bytes=theirs[key], ratio=ratio,
                             traced_bytes=ours['traced_bytes'])
        rows.append([name, f'{mine / 1e6:,.1f}', f'{theirs[key] / 1e6:,.1f}', f'{ratio:.2f}',
                     'met' if ratio <= MEMORY_TARGET[args.device] else 'missed',
                     f'{ours["traced_bytes"] / 1e6:,.1f} ({ours["tool"]})'])
        print(f'  {name}: minidl {mine / 1e6:,.1f} MB, PyTorch {theirs[key] / 1e6:,.1f} MB',
              file=sys.stderr, flush=True)
    what = 'GPU memory peak' if args.device == 'cuda' else 'RSS high-water mark above baseline'
    header = ['model', f'minidl {what} (MB)', f'PyTorch {what} (MB)', 'minidl / PyTorch',
              f'target {MEMORY_TARGET[args.device]}', 'minidl traced peak of one step (MB)']
    return table(header, rows), results


# ---------------------------------------------------------------- report

def table(header, rows):
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '|'.join('---' for _ in header) + '|']
    lines += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--models', default=None,
                        help=f'comma-separated, from {", ".join(MODELS)} (default: '
                             f'{",".join(CPU_MODELS)} on the CPU, {",".join(CUDA_MODELS)} on a GPU)')
    parser.add_argument('--steps', type=int, default=None,
                        help='measured steps per framework (default 7 on the CPU, 20 on a GPU)')
    parser.add_argument('--warmup', type=int, default=None,
                        help='unmeasured steps first (default 2 on the CPU, 5 on a GPU)')
    parser.add_argument('--quick', action='store_true',
                        help=f'a smoke test: batch {QUICK_BATCH}, two conv layers at batch 2')
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--threads', type=int, default=None,
                        help='threads of PyTorch, minidl and NumPy\'s BLAS alike (default: '
                             'BLAS\'s, the cores); --threads 1 compares one core\'s work, which '
                             'a machine busy with other jobs disturbs least')
    parser.add_argument('--out', default=None,
                        help='markdown results file (default results/cpu.md or results/gpu.md)')
    parser.add_argument('--sections', default='steps,layers,memory',
                        help='which of steps, layers, memory to run')
    parser.add_argument('--memory-child', nargs=2, metavar=('FRAMEWORK', 'MODEL'),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    cuda = args.device == 'cuda'
    if args.steps is None:
        args.steps = 20 if cuda else 7
    if args.warmup is None:
        args.warmup = 5 if cuda else 2
    if args.models is None:
        args.models = ','.join(CUDA_MODELS if cuda else CPU_MODELS)
    if args.out is None:
        args.out = str(HERE / 'results' / ('gpu.md' if cuda else 'cpu.md'))
    if args.memory_child:
        memory_child(*args.memory_child, args.steps, args.quick, args.device, args.threads)
        return 0
    names = [n.strip() for n in args.models.split(',') if n.strip()]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f'unknown models {unknown}; choose from {", ".join(MODELS)}')
    if args.quick:
        args.steps, args.warmup = min(args.steps, 2), min(args.warmup, 1)
    sections = set(args.sections.split(','))

    set_threads(args.threads)
    runner = Runner(args.device)
    out = ['# minidl against PyTorch: training-step speed and memory '
           f'({args.device.upper()})', '', 'Made by `python benchmarks/speed.py '
           + ' '.join(argv if argv is not None else sys.argv[1:]) + '`.', '']
    out += machine_lines(args.device)
    out += [f'- {args.steps} measured steps per framework after {args.warmup} warm-up steps, '
            'minidl and PyTorch alternating; medians', '']
    results = {}
    if 'steps' in sections:
        print('training steps:', file=sys.stderr)
        text, results['steps'] = step_section(names, runner, args)
        out += ['## One training step', '',
                'zero_grad, forward, cross-entropy, backward, SGD (lr 0.01, momentum 0.9, '
                'weight decay 5e-4). Target: minidl / PyTorch <= '
                + f'{STEP_TARGET[args.device]}' + '.', '',
                text, '']
    if 'layers' in sections:
        print('ResNet-18 convolution layers:', file=sys.stderr)
        text, results['layers'] = layer_section(runner, args)
        out += [f'## ResNet-18 (CIFAR stem, batch {layer_batch(args.device)}) convolutions, '
                'one by one', '',
                'Forward 2*MACs, backward 4*MACs (input and weight gradients; the stem conv '
                '`conv1` has no input gradient: 2*MACs) per pass, median time. '
                f'Target: every 3x3 layer fwd+bwd >= {LAYER_TARGET:.0%} of the GEMM rate.', '',
                text, '']
    if 'memory' in sections:
        print('memory (subprocesses):', file=sys.stderr)
        text, results['memory'] = memory_section(names, args)
        out += ['## Peak memory of a training step', '',
                'A fresh process per model and framework runs '
                f'{2 if args.quick else 3} training steps; the figure is its RSS high-water '
                'mark (Linux VmHWM; ru_maxrss elsewhere) minus the mark after imports, so it '
                'includes parameters, gradients, momentum buffers, activations and allocator '
                'slack. The traced peak is minidl.profile.measure_training_peak (NumPy '
                'buffers only, one steady-state step).', '', text, '']
    out.append(f'Load average at the end: {" / ".join(f"{v:.2f}" for v in os.getloadavg())}.')
    report = '\n'.join(out) + '\n'
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(report)
    Path(args.out).with_suffix('.json').write_text(json.dumps(results, indent=1))
    print(report)
    return 0


if __name__ == '__main__':
    sys.exit(main())
