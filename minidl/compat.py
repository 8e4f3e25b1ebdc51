"""PyTorch's import names for minidl's modules: the import hook behind ``minidl run``.

    minidl run train.py --epochs 3        # train.py says `import torch`, gets minidl

``install()`` puts a finder first on ``sys.meta_path`` that answers the imports of
``torch``, ``torch.*``, ``torchvision`` and ``torchvision.*`` with minidl's modules:
``torch.nn`` is ``minidl.nn``, ``torch.utils.data`` is ``minidl.utils.data``,
``torchvision.transforms`` is ``minidl.vision.transforms`` (the few paths that differ
are in ``ALIASES``). A real PyTorch, installed or not, is not imported and not changed;
the hook lives only in the process that installed it.

Each such module is a *view* of the minidl module (a ``TorchModule``): reading an
attribute reads minidl's (the very same classes and functions), setting one sets
minidl's (``torch.backends.cudnn.benchmark = True``). What minidl lacks raises an
error that names the PyTorch API and says minidl does not provide it, instead of an
AttributeError from deep inside minidl::

    AttributeError: torch.fft: minidl does not provide this PyTorch API ...
"""
import importlib
import importlib.abc
import importlib.util
import os
import runpy
import sys
import traceback
import types

__all__ = ['ALIASES', 'MissingFromMinidl', 'TorchModule', 'TorchAliasFinder', 'install',
           'uninstall', 'minidl_name', 'run_script']

# PyTorch module paths whose minidl module is not found by renaming the prefix
ALIASES = {
    'torch': 'minidl',
    'torchvision': 'minidl.vision',
    'torch.utils.data.dataset': 'minidl.utils.data',
    'torch.utils.data.dataloader': 'minidl.utils.data',
    'torch.utils.data.sampler': 'minidl.utils.data',
    'torch.utils.data.distributed': 'minidl.utils.data',
    'torch.autograd.function': 'minidl.autograd',
    'torch.autograd.grad_mode': 'minidl.autograd',
    'torch.nn.parameter': 'minidl.nn',
    'torch.nn.init': 'minidl.nn.init',
    'torch.nn.modules': 'minidl.nn',
    'torch.nn.modules.module': 'minidl.nn',
    'torch.nn.modules.loss': 'minidl.nn',
}

_HINT = ('(this script runs on minidl through `minidl run`; the README\'s "Coming from '
         'PyTorch" lists what minidl leaves out)')


class MissingFromMinidl(AttributeError):
    """A PyTorch attribute that minidl does not have."""


def minidl_name(torch_name):
    """The minidl module that stands for the PyTorch module ``torch_name``, or None when
    ``torch_name`` is not under torch or torchvision."""
    if torch_name in ALIASES:
        return ALIASES[torch_name]
    for prefix in ('torchvision', 'torch'):
        if torch_name.startswith(prefix + '.'):
            return ALIASES[prefix] + torch_name[len(prefix):]
    return None


def _missing_module(torch_name):
    """The error for importing ``torch_name``, a module or (``from torch.nn import X``) a
    name. It carries no ``name``: the import system would otherwise turn the second case
    into a bare "cannot import name" and drop the explanation."""
    return ModuleNotFoundError(f'cannot import {torch_name}: minidl does not provide this '
                               f'PyTorch API {_HINT}')


def _view(torch_name, target):
    """The TorchModule ``torch_name`` showing ``target``, made once and kept in sys.modules."""
    known = sys.modules.get(torch_name)
    if isinstance(known, TorchModule) and known.__dict__['_minidl_target'] is target:
        return known
    view = TorchModule(torch_name, target)
    sys.modules[torch_name] = view
    return view


class TorchModule(types.ModuleType):
    """The PyTorch module ``name`` as a view of the minidl module ``target``."""

    def __init__(self, name, target):
        super().__init__(name, target.__doc__)
        self.__dict__['_minidl_target'] = target

    def __getattr__(self, name):   # called for what the view itself does not hold
        target = self.__dict__['_minidl_target']
        if name.startswith('__') and name.endswith('__'):
            return getattr(target, name)
        torch_name = f'{self.__name__}.{name}'
        try:
            value = getattr(target, name)
        except AttributeError:
            value = _import_minidl(torch_name)   # a submodule not imported yet
            if value is None:
                raise MissingFromMinidl(f'{torch_name}: minidl does not provide this PyTorch '
                                        f'API {_HINT}') from None
        if isinstance(value, types.ModuleType) and value.__name__.startswith('minidl'):
            return _view(torch_name, value)
        return value

    def __setattr__(self, name, value):
        # the import system's bookkeeping (__spec__, submodules) stays on the view;
        # settings go to minidl's module
        if (name.startswith('__') and name.endswith('__')) or isinstance(value, TorchModule):
            self.__dict__[name] = value
        else:
            setattr(self.__dict__['_minidl_target'], name, value)

    def __dir__(self):
        return sorted(set(dir(self.__dict__['_minidl_target'])))

    def __repr__(self):
        return f"<module '{self.__name__}' (minidl's {self.__dict__['_minidl_target'].__name__})>"


def _import_minidl(torch_name):
    """The minidl module standing for ``torch_name``, imported; None when there is none."""
    name = minidl_name(torch_name)
    if name is None:
        return None
    try:
        found = importlib.util.find_spec(name)
    except ModuleNotFoundError:   # its parent is a module, not a package (F.gelu)
        found = None
    return None if found is None else importlib.import_module(name)


class TorchAliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers imports of torch and torchvision (and their submodules) with minidl's."""

    def find_spec(self, fullname, path=None, target=None):
        name = minidl_name(fullname)
        if name is None:
            return None
        try:
            found = importlib.util.find_spec(name)
        except ModuleNotFoundError:   # a parent of it is missing
            found = None
        if found is None:
            raise _missing_module(fullname)
        # every view may have submodules: an empty search path lets `import torch.x.y` ask us
        return importlib.util.spec_from_loader(fullname, self, is_package=True)

    def create_module(self, spec):
        return _view(spec.name, importlib.import_module(minidl_name(spec.name)))

    def exec_module(self, module):
        pass   # the minidl module is already loaded


_finder = TorchAliasFinder()


def install():
    """Answer torch/torchvision imports with minidl from now on, in this process."""
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)


def uninstall():
    """Remove the hook and forget the torch/torchvision views it made."""
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    for name, module in list(sys.modules.items()):
        if isinstance(module, TorchModule):
            del sys.modules[name]


# ---------------------------------------------------------------- minidl run

class _ModelRecorder:
    """For ``--profile``: the models a script runs (outermost modules with parameters)
    and the shapes of their first inputs."""

    def __init__(self):
        self.models = {}   # id -> (model, input shapes, dtype)
        self.depth = 0
        from .nn import register_module_forward_hook, register_module_forward_pre_hook
        self.handles = [register_module_forward_pre_hook(self.enter),
                        register_module_forward_hook(self.leave)]

    def enter(self, module, args):
        from .tensor import Tensor
        if self.depth == 0 and id(module) not in self.models \
                and any(True for _ in module.parameters()):
            tensors = [a for a in args if isinstance(a, Tensor)]
            if tensors and all(t.dtype.kind == 'f' and t.ndim >= 1 for t in tensors):
                shapes = [(1,) + tuple(t.shape[1:]) for t in tensors]
                self.models[id(module)] = (module, shapes, str(tensors[0].dtype))
        self.depth += 1

    def leave(self, module, args, output):
        self.depth -= 1

    def report(self, stream):
        for handle in self.handles:
            handle.remove()
        from .profile import summary
        for model, shapes, dtype in self.models.values():
            model.eval()
            print(f'\nminidl run --profile: {type(model).__name__}, input '
                  f'{" + ".join(str(s) for s in shapes)}', file=stream)
            print(summary(model, shapes if len(shapes) > 1 else shapes[0], dtype=dtype,
                          device=str(next(iter(model.parameters())).device)), file=stream)


def run_script(path, args=(), profile=False, stream=None):
    """Run the Python file ``path`` as ``__main__`` with ``sys.argv = [path, *args]`` and
    torch/torchvision imports resolved to minidl; with ``profile``, print the profiler's
    table of each model it ran when it ends. Returns what the script exits with."""
    stream = sys.stderr if stream is None else stream
    if not os.path.isfile(path):
        raise FileNotFoundError(f'minidl run: no such script: {path}')
    install()
    print(f'minidl run: {path} runs on minidl: its imports of torch and torchvision resolve '
          f'to minidl\'s modules (PyTorch is not used)', file=stream, flush=True)
    recorder = _ModelRecorder() if profile else None
    sys.argv = [path, *args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    code = 0
    try:
        runpy.run_path(path, run_name='__main__')
    except SystemExit as done:
        code = done.code
    except Exception as error:   # reported as Python reports a script's error, exit status 1
        _print_script_traceback(error, path, stream)
        code = 1
    if recorder is not None and code in (0, None):
        recorder.report(stream)
    return code


def _print_script_traceback(error, path, stream):
    """The traceback from the script's first frame on (without minidl run's own frames)."""
    tb, script = error.__traceback__, os.path.abspath(path)
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) != script:
        tb = tb.tb_next
    traceback.print_exception(type(error), error, tb or error.__traceback__, file=stream)
