"""Reading a host's files without trusting them: a regular file only (a
FIFO would block the read, a device such as /dev/zero never ends), at most
a bound suited to the file, decoded as UTF-8 with the line of the first
byte that is not.
"""
from __future__ import annotations

import os
import stat

# The kernel's sysfs show() buffer is one page (fs/sysfs/file.c); our
# attributes hold a few bytes, so 4 KiB covers them on any page size.
SYSFS_ATTRIBUTE = 4096
# Nova's fully commented nova.conf.sample is about 300 KB.
NOVA_CONF = 4 << 20
# pci.ids is about 1.5 MB and grows slowly.
PCI_IDS = 16 << 20

_KINDS = ((stat.S_ISDIR, 'a directory'), (stat.S_ISFIFO, 'a FIFO'),
          (stat.S_ISSOCK, 'a socket'), (stat.S_ISCHR, 'a character device'),
          (stat.S_ISBLK, 'a block device'))


class FileError(ValueError):
    """A file that cannot be read as text (one line naming it)."""


class Missing(FileError):
    """The file does not exist."""


def _regular(path, mode):
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)),
                    'something else')
        raise FileError('%s is %s, not a regular file' % (path, kind))


def read_bytes(path: str, limit: int) -> bytes:
    """The bytes of a regular file of at most LIMIT bytes."""
    try:
        # stat first: opening a socket fails with a misleading ENXIO
        _regular(path, os.stat(path).st_mode)
        # O_NONBLOCK: should it have become a FIFO since, open won't wait
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, 'rb') as f:
            _regular(path, os.fstat(fd).st_mode)
            data = f.read(limit + 1)
    except OSError as e:
        error = Missing if isinstance(e, FileNotFoundError) else FileError
        raise error('cannot read %s: %s' % (path, e.strerror or e)) from None
    if len(data) > limit:
        raise FileError('%s is larger than %s' % (path, _size(limit)))
    return data


def read_text(path: str, limit: int, fix: str = '') -> str:
    """The text of a regular UTF-8 file of at most LIMIT bytes; FIX ends
    the message for bytes that are not UTF-8."""
    data = read_bytes(path, limit)
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError as e:
        line = data.count(b'\n', 0, e.start) + 1
        raise FileError('%s:%d: byte 0x%02x is not UTF-8%s' % (
            path, line, data[e.start], fix and ': ' + fix)) from None


def _size(limit):
    return ('%d MiB' % (limit >> 20) if limit >= 1 << 20
            else '%d bytes' % limit)
