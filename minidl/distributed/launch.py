"""Finding ``mpiexec`` and building the command that starts a job.

``pip install 'minidl[distributed]'`` installs MPICH's ``mpiexec`` next to the Python
of the environment (``venv/bin/mpiexec``), which may not be on ``PATH``; that one
matches the MPI library mpi4py loads, so it is preferred to one found on ``PATH``.
Open MPI's ``mpiexec`` refuses to run as root and to start more processes than there
are cores unless told (``--allow-run-as-root``, ``--oversubscribe``), which containers
and CI machines often need.
"""
import os
import shutil
import subprocess
import sys


def find_mpiexec():
    """The path of ``mpiexec``: beside this Python first, then on PATH; None if neither."""
    beside_python = os.path.join(os.path.dirname(sys.executable), 'mpiexec')
    if os.access(beside_python, os.X_OK):
        return beside_python
    return shutil.which('mpiexec')


def _is_open_mpi(mpiexec):
    try:
        version = subprocess.run([mpiexec, '--version'], capture_output=True, text=True,
                                 timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return 'Open MPI' in version or 'OpenRTE' in version


def mpiexec_command(nprocs, *command, mpiexec=None):
    """The argument list that runs ``command`` as a job of ``nprocs`` processes on this
    machine: ``mpiexec_command(2, sys.executable, 'train.py')``. RuntimeError when no
    mpiexec is installed."""
    mpiexec = mpiexec or find_mpiexec()
    if mpiexec is None:
        raise RuntimeError("no mpiexec found (beside this Python or on PATH): "
                           "pip install 'minidl[distributed]' installs MPICH's")
    extra = []
    if _is_open_mpi(mpiexec):
        extra.append('--oversubscribe')
        if hasattr(os, 'geteuid') and os.geteuid() == 0:
            extra.append('--allow-run-as-root')
    return [mpiexec, *extra, '-n', str(int(nprocs)), *command]
