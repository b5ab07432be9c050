"""One bounded pool of request threads per command, and its progress
display ("N of M requests" on a terminal).

A command runs in `for_command()`: its gathers share that pool's threads
and counts, and both end with it, so a command in OSC's interactive shell
starts from nothing. A gather outside any command (a script using the
client) gets a pool of its own.
"""
from __future__ import annotations

import contextlib
import queue
import sys
import threading
import time

# Bounded: 8 threads saturate two Placement workers (see the benchmark)
# and stay under requests' default pool of 10 connections per host.
MAX_WORKERS = 8
# A command that has run this long shows its progress (on a terminal).
PROGRESS_AFTER = 2.0

_local = threading.local()   # in_pool: this thread is one of a pool's


class Progress:
    """'N of M requests' on stderr, rewritten in place, for a command that
    has run longer than PROGRESS_AFTER seconds, and only on a terminal:
    a script's stderr stays clean."""

    def __init__(self, stream=None, started=None):
        self.stream = stream
        self.started = time.monotonic() if started is None else started
        self.planned = self.done = 0
        self.shown = False

    def plan(self, count: int) -> None:
        self.planned += count

    def tick(self) -> None:
        self.done += 1  # under the GIL; a lost count only skews the display

    def _stream(self):
        return self.stream or sys.stderr

    def show(self) -> None:
        stream = self._stream()
        if (time.monotonic() - self.started < PROGRESS_AFTER
                or not stream.isatty()):
            return
        stream.write('\r%d of %d requests' % (self.done, self.planned))
        stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self._stream().write('\r\x1b[K')
            self._stream().flush()
            self.shown = False


class _Batch:
    """The items of one gather: results in order, the first error, and a
    stop that makes queued items return without running."""

    def __init__(self, fn, count: int, progress: Progress):
        self.fn = fn
        self.results = [None] * count
        self.pending = count
        self.error: BaseException | None = None
        self.finished = threading.Event()
        self.lock = threading.Lock()
        self.progress = progress

    def run(self, index: int, item) -> None:
        if self.finished.is_set():  # stopped: skip queued work
            return
        try:
            result = self.fn(item)
        except BaseException as e:  # raised in the caller's thread
            with self.lock:
                self.error = self.error or e
            self.finished.set()
            return
        with self.lock:
            self.results[index] = result
            self.pending -= 1
            if not self.pending:
                self.finished.set()
        self.progress.tick()


class Pool:
    """MAX_WORKERS threads, started on the first gather that needs them,
    stopped by close(). Daemon threads: after Ctrl-C or a failure the
    command exits without waiting for requests still in flight."""

    def __init__(self, max_workers: int = MAX_WORKERS, stream=None):
        self.max_workers = max_workers
        self.progress = Progress(stream)
        self.interrupted = False
        self._tasks: queue.SimpleQueue = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._lock = threading.Lock()

    def _work(self) -> None:
        _local.in_pool = True
        while True:
            task = self._tasks.get()
            if task is None:
                return
            task()

    def _start(self) -> None:
        with self._lock:
            while len(self._workers) < self.max_workers:
                worker = threading.Thread(target=self._work, daemon=True,
                                          name='gpuclient-http')
                worker.start()
                self._workers.append(worker)

    def gather(self, fn, items) -> list:
        """fn(item) for every item, concurrently, results in item order.

        A gather inside a pool thread (a nested one) runs its items in
        that thread, so the requests in flight never exceed the bound.
        The first error stops the items not yet started and is raised at
        once.
        """
        items = list(items)
        if len(items) < 2 or getattr(_local, 'in_pool', False):
            return [fn(i) for i in items]
        batch = _Batch(fn, len(items), self.progress)
        self._start()
        self.progress.plan(len(items))
        for index, item in enumerate(items):
            self._tasks.put(
                lambda index=index, item=item: batch.run(index, item))
        try:
            # Short waits: the main thread notices Ctrl-C, and progress
            # shows.
            while not batch.finished.wait(0.2):
                self.progress.show()
        except KeyboardInterrupt:
            batch.finished.set()
            interrupted()
            raise
        finally:
            self.progress.clear()
        if batch.error is not None:
            raise batch.error
        return batch.results

    def close(self) -> None:
        """Stop the threads once their tasks are done (or skipped)."""
        with self._lock:
            for _ in self._workers:
                self._tasks.put(None)
            self._workers = []


_current: Pool | None = None


def current() -> Pool:
    """The running command's pool, or one for gathers outside a command."""
    global _current
    if _current is None:
        _current = Pool()
    return _current


@contextlib.contextmanager
def for_command():
    """A pool (and progress count) of its own for one command."""
    global _current
    outer, _current = _current, Pool()
    try:
        yield _current
    finally:
        _current.close()
        _current = outer


def gather(fn, items) -> list:
    """fn(item) for every item, on the running command's pool."""
    return current().gather(fn, items)


def interrupted() -> None:
    """Ctrl-C: one line (cliff then exits 130 without a word)."""
    running = current()
    if not running.interrupted:
        running.interrupted = True
        running.progress.clear()
        sys.stderr.write('interrupted: stopped after %d of %d requests\n'
                         % (running.progress.done, running.progress.planned))
