"""The command's request pool: concurrent, bounded, in order, stopped by
the first error, and its own for each command."""
import io
import threading
import time

import testtools

from gpuclient.access import http
from gpuclient.access import pool

WAIT = 10  # seconds an event may take before the test fails


class TestGather(testtools.TestCase):

    def test_keeps_order(self):
        self.assertEqual([x * 2 for x in range(50)],
                         pool.gather(lambda x: x * 2, range(50)))

    def test_runs_max_workers_at_once(self):
        # Each item waits until MAX_WORKERS items are running together: a
        # sequential pool never gets there and the barrier breaks.
        barrier = threading.Barrier(pool.MAX_WORKERS, timeout=WAIT)
        result = pool.gather(lambda x: barrier.wait() is not None and x,
                             range(pool.MAX_WORKERS))
        self.assertEqual(list(range(pool.MAX_WORKERS)), result)

    def test_the_first_error_stops_queued_work(self):
        started, release = [], threading.Event()
        lock = threading.Lock()

        def fn(x):
            with lock:
                started.append(x)
            if x == 0:
                raise http.CloudError('boom')
            release.wait(WAIT)   # the others stay in flight until told
            return x

        self.assertRaises(http.CloudError, pool.gather, fn, range(200))
        release.set()
        # Only what was already in flight ran: at most one per thread.
        self.assertLessEqual(len(started), pool.MAX_WORKERS)

    def test_nested_gathers_stay_in_the_bound(self):
        lock = threading.Lock()
        running, peak = [0], [0]

        def leaf(x):
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            with lock:
                running[0] -= 1
            return x

        result = pool.gather(lambda i: sum(pool.gather(leaf, range(10))),
                             range(20))
        self.assertEqual([45] * 20, result)
        self.assertLessEqual(peak[0], pool.MAX_WORKERS)


class TestPerCommand(testtools.TestCase):

    def test_each_command_counts_from_nothing(self):
        # OSC's interactive shell runs many commands in one process.
        for _ in range(2):
            with pool.for_command() as running:
                pool.gather(lambda x: x, range(5))
                self.assertEqual((5, 5), (running.progress.planned,
                                          running.progress.done))

    def test_threads_end_with_the_command(self):
        with pool.for_command() as running:
            pool.gather(lambda x: x, range(3))
            threads = list(running._workers)
        self.assertTrue(threads)
        for thread in threads:
            thread.join(WAIT)
            self.assertFalse(thread.is_alive())


class Terminal(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


class TestProgress(testtools.TestCase):

    def shown(self, tty, running_for):
        """What a progress of 1 of 10 requests writes, on a terminal or
        not, when the command has run `running_for` seconds."""
        stream = Terminal(tty)
        progress = pool.Progress(stream,
                                 started=time.monotonic() - running_for)
        progress.plan(10)
        progress.tick()
        progress.show()
        return stream, progress

    def test_shown_on_a_terminal_after_a_while(self):
        stream, progress = self.shown(True, 5)
        self.assertEqual('\r1 of 10 requests', stream.getvalue())
        progress.clear()
        self.assertTrue(stream.getvalue().endswith('\r\x1b[K'))

    def test_not_shown_early(self):
        stream, progress = self.shown(True, 0)
        progress.clear()
        self.assertEqual('', stream.getvalue())

    def test_never_shown_when_not_a_terminal(self):
        stream, progress = self.shown(False, 5)
        progress.clear()
        self.assertEqual('', stream.getvalue())
