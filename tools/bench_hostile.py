"""Hostile host files: what `gpu config generate` and `gpu config check`
cost when a file is a FIFO, /dev/zero, 10 MB, binary or Latin-1 (target:
under 2 s and bounded memory, one line each). Each case runs the real
`openstack` program: wall time, peak RSS of the child, exit status and
stderr lines. Runs alone too: python tools/bench_hostile.py
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SYSFS = os.path.join(ROOT, 'tests', 'fixtures', 'sysfs', 'passthrough')
VENDOR = os.path.join('bus', 'pci', 'devices', '0000:41:00.0', 'vendor')
OPENSTACK = os.path.join(os.path.dirname(sys.executable), 'openstack')
# A run past this is reported as hung (the target is 2 s).
HANG = 60


def _write(path, data):
    with open(path, 'wb') as f:
        f.write(data)


def _cases(work):
    """(name, argv, path, plant): plant(path) makes the hostile file."""
    root = os.path.join(work, 'sys')
    vendor = os.path.join(root, VENDOR)
    conf = os.path.join(work, 'nova.conf')
    generate = ['gpu', 'config', 'generate', '--sysfs', root]
    check = ['gpu', 'config', 'check', conf]
    return (
        ('sysfs: clean copy', generate, None, None),
        ('sysfs: FIFO attribute', generate, vendor, os.mkfifo),
        ('sysfs: /dev/zero attribute', generate, vendor,
         lambda p: os.symlink('/dev/zero', p)),
        ('sysfs: 10 MB attribute', generate, vendor,
         lambda p: _write(p, b'0x10de' * ((10 << 20) // 6))),
        ('sysfs: binary attribute', generate, vendor,
         lambda p: _write(p, bytes(range(256)))),
        ('nova.conf: /dev/zero', check, conf,
         lambda p: os.symlink('/dev/zero', p)),
        ('nova.conf: FIFO', check, conf, os.mkfifo),
        ('nova.conf: Latin-1', check, conf,
         lambda p: _write(p, '[pci]\n# Müller\n'.encode('latin-1'))),
    )


def run_case(argv, work):
    """Wall time, exit, stderr lines and the child's own peak RSS (wait4's
    rusage is the one child's)."""
    env = {'PATH': os.environ.get('PATH', '/usr/bin:/bin'), 'HOME': work,
           'LANG': 'C.UTF-8'}
    err_path = os.path.join(work, 'stderr')
    with open(os.devnull, 'wb') as out, open(err_path, 'wb') as err:
        started = time.monotonic()
        child = subprocess.Popen([OPENSTACK, *argv], env=env, stdout=out,
                                 stderr=err)
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > HANG:
                child.kill()
                child.wait()
                return {'hung': True}
            time.sleep(0.01)
    seconds = time.monotonic() - started
    with open(err_path) as f:
        lines = len(f.read().splitlines())
    return {'seconds': round(seconds, 2),
            'exit': os.waitstatus_to_exitcode(status),
            'stderr_lines': lines,
            'max_rss_mb': round(usage.ru_maxrss / 1024, 1)}


def measure() -> dict:
    found = {}
    for index in range(len(_cases(''))):
        work = tempfile.mkdtemp()
        try:
            shutil.copytree(SYSFS, os.path.join(work, 'sys'), symlinks=True)
            name, argv, path, plant = _cases(work)[index]
            if plant:
                if os.path.lexists(path):
                    os.remove(path)
                plant(path)
            found[name] = run_case(argv, work)
        finally:
            shutil.rmtree(work)
    return found


def report(found: dict) -> None:
    print()
    print('hostile host files (target: under 2 s, bounded memory, one line)')
    print('%-28s %8s %6s %6s %12s' % ('case', 'seconds', 'exit', 'lines',
                                     'max RSS MB'))
    for name, r in found.items():
        if r.get('hung'):
            print('%-28s %8s' % (name, 'HUNG (>%ds)' % HANG))
            continue
        print('%-28s %8.2f %6d %6d %12.1f' % (
            name, r['seconds'], r['exit'], r['stderr_lines'],
            r['max_rss_mb']))


if __name__ == '__main__':
    results = measure()
    report(results)
    print(json.dumps(results, sort_keys=True))
