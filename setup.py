"""minidl: a deep learning engine written from scratch on NumPy (CPU) and CuPy (GPU)."""
from setuptools import find_packages, setup

DISTRIBUTED = ['mpi4py>=4', 'mpich>=4; sys_platform == "linux" or sys_platform == "darwin"']

setup(
    name='minidl',
    version='0.1.0',
    description='A readable deep learning engine on NumPy and CuPy: autograd, the classic CNNs, '
                'gradient checks and a FLOP/memory profiler',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    python_requires='>=3.9',
    packages=find_packages(include=['minidl', 'minidl.*']),
    package_data={'minidl.data.datasets': ['*.npz', '*.md']},
    install_requires=[
        'numpy>=1.26',
        'scipy>=1.10',
        'tqdm>=4.60',
        'matplotlib>=3.7',
        'safetensors>=0.4',
        'pillow>=9.1',
        'threadpoolctl>=3.1',   # BLAS on one thread inside minidl's own CPU threads
    ],
    extras_require={
        # CUDA 12; for CUDA 13 install cupy-cuda13x instead (see README)
        'gpu': ['cupy-cuda12x>=13'],
        # data parallelism (minidl.distributed): mpi4py and an MPI library from PyPI
        # (MPICH's wheels, with mpiexec, for Linux and macOS)
        'distributed': DISTRIBUTED,
        # the multi-process tests run under the mpiexec that the distributed extra installs;
        # expecttest is imported by torch.testing._internal, whose OpInfo/ModuleInfo
        # samples tests/functional/test_opinfo.py and tests/nn/test_moduleinfo.py run
        'test': ['pytest>=7', 'pytest-xdist>=3', 'hypothesis>=6.80', 'torch>=2.1',
                 'expecttest>=0.1', *DISTRIBUTED],
    },
    entry_points={'console_scripts': ['minidl=minidl.cli:main']},
    license='MIT',
    classifiers=['Programming Language :: Python :: 3', 'License :: OSI Approved :: MIT License'],
)
