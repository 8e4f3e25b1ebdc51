"""How a rank learns that another one failed, instead of waiting for it forever.

An MPI collective waits until every rank has joined it. If one rank raises an
exception and exits, or gets stuck, the others would wait in their next collective
forever (MPI itself notices only processes that die, not ones that hang or leave
cleanly). So minidl never blocks inside MPI: it starts every collective as a
non-blocking one and ``Watchdog.wait`` polls it, and between polls it reads a
separate control channel (its own communicator) that carries four kinds of small
messages between ranks:

    FAILED  "rank r failed: <why>"       sent by ``announce_failure`` to every rank
    ACK     "I have reported your failure" sent back by a rank that read FAILED, once it
                                         has printed its own error (so that ending the
                                         job does not cut that error short)
    QUERY   "where are you?"             sent by a rank whose wait timed out
    STATUS  "in all_reduce #57"          the answer of a rank that is waiting too

A rank that reads FAILED raises ``DistBackendError`` naming the failed rank. A rank
that waits longer than the timeout asks the others where they are: the ranks that
answer are waiting in a collective (maybe another one: a mismatch); those that do not
answer are stuck outside minidl.distributed, or dead. Its error names them.
"""
import time

import numpy as np

FAILED, ACK, QUERY, STATUS = 101, 102, 103, 104

# Polling: without pause for the first 200 microseconds (a small collective is done by
# then), then with pauses doubling up to a millisecond, so that a long wait costs little
# CPU (MPI's own blocking calls poll without pause all along).
_SPIN_SECONDS, _FIRST_PAUSE, _LONGEST_PAUSE = 2e-4, 1e-5, 1e-3


class DistError(RuntimeError):
    """An error of minidl.distributed (``torch.distributed.DistError``)."""
    __module__ = 'minidl.distributed'


class DistBackendError(DistError):
    """Another rank failed, or a collective timed out (``torch.distributed.DistBackendError``)."""
    __module__ = 'minidl.distributed'


class Watchdog:
    """Waits for the collectives of one process group, watching the other ranks.

    ``control`` is an mpi4py communicator used for nothing but these messages;
    ``timeout`` is in seconds; ``answer_seconds`` is how long a rank waits for answers
    to its questions (where are you? did you read my failure notice?).
    """

    def __init__(self, control, timeout, answer_seconds=5.0):
        from mpi4py import MPI
        self.MPI = MPI
        self.control = control
        self.rank, self.size = control.Get_rank(), control.Get_size()
        self.timeout = float(timeout)
        self.answer_seconds = min(float(answer_seconds), max(self.timeout, 0.5))
        self.failed = {}       # rank -> its failure message, for ranks known to have failed
        self.silent = set()    # ranks that did not answer our QUERY: no use waiting for them
        self._acks = set()     # ranks that acknowledged our failure notice
        self._status = {}      # rank -> its answer to our QUERY
        self._sends = []       # (request, buffer) of messages not yet delivered
        self.waiting_in = None  # what this rank waits for now ('all_reduce #57')

    # ------------------------------------------------------------ messages
    def _send(self, dest, tag, text=''):
        buffer = np.frombuffer(text.encode('utf-8'), dtype=np.uint8).copy()
        request = self.control.Isend([buffer, self.MPI.BYTE], dest=dest, tag=tag)
        self._sends.append((request, buffer))    # the buffer must live until delivered
        self._sends = [(r, b) for r, b in self._sends if not r.Test()]

    def _read_messages(self):
        """Handle every control message that has arrived; raise on a failure notice."""
        status = self.MPI.Status()
        while self.control.Iprobe(source=self.MPI.ANY_SOURCE, tag=self.MPI.ANY_TAG,
                                  status=status):
            source, tag = status.Get_source(), status.Get_tag()
            buffer = np.empty(status.Get_count(self.MPI.BYTE), dtype=np.uint8)
            self.control.Recv([buffer, self.MPI.BYTE], source=source, tag=tag)
            text = buffer.tobytes().decode('utf-8', errors='replace')
            if tag == FAILED:
                self.failed[source] = text
                if self.waiting_in is not None:   # not when announcing our own failure
                    raise DistBackendError(f'rank {self.rank}: stopped in {self.waiting_in} '
                                           f'because rank {source} failed: {text}')
            elif tag == ACK:
                self._acks.add(source)
            elif tag == QUERY:
                self._send(source, STATUS, self.waiting_in or 'nothing')
            elif tag == STATUS:
                self._status[source] = text

    # ------------------------------------------------------------ waiting
    def wait(self, is_done, what):
        """Poll ``is_done()`` until it is true; ``what`` names the collective in errors.

        Raises DistBackendError when another rank announces its failure, or when
        ``timeout`` seconds pass (naming the ranks that did not join)."""
        self.waiting_in = what
        try:
            self._read_messages()   # a failure announced earlier stops us before waiting
            start = time.monotonic()
            deadline, spin_until = start + self.timeout, start + _SPIN_SECONDS
            pause = _FIRST_PAUSE
            while not is_done():
                self._read_messages()
                now = time.monotonic()
                if now > deadline:
                    self._raise_timeout(what)
                if now > spin_until:
                    time.sleep(pause)
                    pause = min(2 * pause, _LONGEST_PAUSE)
        finally:
            self.waiting_in = None

    def _raise_timeout(self, what):
        """Ask every other rank where it is, wait a little for the answers, and raise."""
        others = [r for r in range(self.size) if r != self.rank]
        self._status.clear()
        for r in others:
            self._send(r, QUERY)
        until = time.monotonic() + self.answer_seconds
        while len(self._status) < len(others) and time.monotonic() < until:
            self._read_messages()
            time.sleep(_LONGEST_PAUSE)
        silent = [r for r in others if r not in self._status]
        self.silent.update(silent)
        elsewhere = {r: s for r, s in self._status.items() if s != what}
        parts = []
        if silent:
            parts.append(f'{_ranks(silent)} did not answer (stuck outside minidl.distributed, '
                         f'or dead)')
        parts.extend(f'rank {r} is waiting in {s}' for r, s in sorted(elsewhere.items()))
        if not parts:
            parts.append('every rank is waiting in it too')
        raise DistBackendError(f'rank {self.rank}: {what} timed out after {self.timeout:g} s: '
                               + '; '.join(parts))

    # ------------------------------------------------------------ failing
    def announce_failure(self, message):
        """Tell every other rank that this one failed with ``message``, and wait (a few
        seconds at most) until each has reported it or has failed itself; not for the
        ranks that were silent when asked where they were. Also tells the ranks whose
        failure made this one fail that it has reported theirs."""
        self.waiting_in = None
        for r in self.failed:
            self._send(r, ACK)
        others = [r for r in range(self.size) if r != self.rank and r not in self.failed]
        for r in others:
            self._send(r, FAILED, message)
        others = [r for r in others if r not in self.silent]
        until = time.monotonic() + self.answer_seconds
        while time.monotonic() < until:
            self._read_messages()      # with waiting_in None, a FAILED notice raises nothing
            if all(r in self._acks or r in self.failed for r in others):
                break
            time.sleep(_LONGEST_PAUSE)


def _ranks(ranks):
    return ('rank ' if len(ranks) == 1 else 'ranks ') + ', '.join(map(str, ranks))
