"""The run folder of ``fit(out=...)`` and ``minidl train --out``, and the rules that keep
a run from ever being destroyed unasked.

A run folder holds ``checkpoint.minidl`` (and the one before it, ``checkpoint.prev.minidl``),
``metrics.csv`` and ``curves.png``. ``plan_run`` decides, before anything is written:

- a new run (neither ``resume`` nor ``overwrite``) needs a folder that holds none of
  those files; other files in it are left alone;
- ``overwrite`` starts afresh: the run files are deleted (by ``clear_run``) when
  training starts;
- ``resume`` continues from the folder's checkpoint, or from its previous copy when the
  checkpoint is missing (never writing over that copy); a folder without any checkpoint
  starts from scratch (a run killed before its first checkpoint left at most its first
  metrics and curves, which are written again). ``resume`` may
  also name a checkpoint file (the previous copy, say) or another run's folder; a run
  folder other than that one must then be empty of run files.
"""
import os

from .checkpoint import CheckpointError, previous_path

__all__ = ['CHECKPOINT_NAME', 'PREVIOUS_NAME', 'METRICS_NAME', 'CURVES_NAME', 'RUN_FILES',
           'RunExistsError', 'run_files', 'find_checkpoint', 'plan_run', 'clear_run']

CHECKPOINT_NAME = 'checkpoint.minidl'
PREVIOUS_NAME = os.path.basename(previous_path(CHECKPOINT_NAME))
METRICS_NAME = 'metrics.csv'
CURVES_NAME = 'curves.png'
LEGACY_NAMES = ('checkpoint.pkl', 'checkpoint.prev.pkl')      # minidl 0.1: pickles
RUN_FILES = (CHECKPOINT_NAME, PREVIOUS_NAME, METRICS_NAME, CURVES_NAME) + LEGACY_NAMES


class RunExistsError(FileExistsError):
    """The output folder already holds a run, and it was not asked to go on with it
    (resume) or to replace it (overwrite)."""


def run_files(out):
    """The names of the run files in the folder ``out``, in the order of ``RUN_FILES``."""
    return [name for name in RUN_FILES if os.path.isfile(os.path.join(out, name))]


def find_checkpoint(folder):
    """The checkpoint to resume from in ``folder``: the current one, else the previous
    copy, else None."""
    for name in (CHECKPOINT_NAME, PREVIOUS_NAME):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    return None


def _same_folder(a, b):
    return os.path.realpath(a) == os.path.realpath(b)


def plan_run(out, resume=False, overwrite=False):
    """The checkpoint a run into ``out`` resumes from (None: it starts from scratch),
    after checking the rules above; changes nothing on disk. Raises ``RunExistsError``,
    ``CheckpointError`` (nothing to resume from) or ``ValueError`` (both asked)."""
    if resume and overwrite:
        raise ValueError('resume and overwrite exclude each other: resume continues the run '
                         'in the folder, overwrite replaces it')
    out = os.fspath(out)
    found = run_files(out) if os.path.isdir(out) else []
    listing = ', '.join(found)
    if not resume:
        if found and not overwrite:
            raise RunExistsError(
                f'{out} already holds a run ({listing}): continue it with --resume '
                f'(resume=True), replace it with --overwrite (overwrite=True), or choose '
                f'another output folder')
        return None
    if resume is not True and not os.path.isdir(resume):     # a checkpoint file
        resume = os.fspath(resume)
        if not os.path.isfile(resume):
            raise CheckpointError(f'checkpoint {resume} does not exist')
        if found and not _same_folder(os.path.dirname(os.path.abspath(resume)), out):
            raise RunExistsError(f'{out} holds another run ({listing}) than the one of '
                                 f'{resume}: resume into its own folder or an empty one')
        return resume
    folder = out if resume is True else os.fspath(resume)
    checkpoint = find_checkpoint(folder)
    if checkpoint is not None:
        if not _same_folder(folder, out) and found:
            raise RunExistsError(f'{out} holds another run ({listing}) than the one in '
                                 f'{folder}: resume into its own folder or an empty one')
        return checkpoint
    legacy = [name for name in LEGACY_NAMES if os.path.isfile(os.path.join(folder, name))]
    if legacy:
        old = os.path.join(folder, legacy[0])
        raise CheckpointError(f'{old} is a checkpoint of minidl 0.1, a pickle, which this '
                              f'minidl does not load (a pickle can run code); convert it once '
                              f'with minidl.train.convert_legacy_checkpoint({old!r})')
    if not _same_folder(folder, out):
        raise CheckpointError(f'{folder} holds no checkpoint ({CHECKPOINT_NAME}) to resume '
                              f'from')
    return None   # no checkpoint at all: metrics and curves alone are rewritten afresh


def clear_run(out):
    """Delete the run files in ``out`` (for ``overwrite``); other files stay."""
    for name in run_files(out):
        os.remove(os.path.join(out, name))
