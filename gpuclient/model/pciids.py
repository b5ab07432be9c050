"""Vendor and device names from the system's pci.ids (pciutils, hwdata),
with a small built-in table for machines that have none.

The file (about 1.3 MB) is read once, on the first lookup, and searched
rather than parsed: a lookup finds the vendor's line, then the device's
line inside that vendor's section.
"""
from __future__ import annotations

import functools
import logging
import re

PATHS = ('/usr/share/misc/pci.ids', '/usr/share/hwdata/pci.ids')

# Used when the system has no pci.ids or an older one that lacks the id
# (the 2023 Debian file has no L40S). Spelled as pci.ids spells them.
VENDORS = {
    '10de': 'NVIDIA Corporation',
    '1002': 'Advanced Micro Devices, Inc. [AMD/ATI]',
    '8086': 'Intel Corporation',
    '144d': 'Samsung Electronics Co Ltd',
    '15b3': 'Mellanox Technologies',
    '102b': 'Matrox Electronics Systems Ltd.',
}
DEVICES = {
    '10de:26b9': 'AD102GL [L40S]',
    '10de:1aef': 'GA102 High Definition Audio Controller',
    '1002:6860': 'Vega 10 [Instinct MI25/MI25x2/V340/V320]',
    '1002:686c': 'Vega 10 [Instinct MI25 MxGPU/MI25x2 MxGPU/V340 MxGPU/'
                 'V340L MxGPU]',
    '8086:1572': 'Ethernet Controller X710 for 10GbE SFP+',
    '144d:a80a': 'NVMe SSD Controller PM9A1/PM9A3/980PRO',
}

# The end of a vendor's section: the next line that is not a device or
# subsystem line (tab), a comment or blank.
_SECTION_END = re.compile(r'\n[^\t#\n]')
_DEVICE_LINE = re.compile(r'^\t([0-9a-f]{4})  (.*)$', re.M)


class Database:
    """Lookups in the text of one pci.ids file."""

    def __init__(self, text: str):
        self._text = text

    @classmethod
    def load(cls, paths=PATHS) -> Database | None:
        """The first of PATHS there is. A byte that is not UTF-8 becomes
        U+FFFD (lspci prints it undecoded); a file that is not a regular
        one or is too large is passed over with a warning, since names
        are a nicety no command fails for."""
        from gpuclient.hostconfig import files

        for path in paths:
            try:
                data = files.read_bytes(path, files.PCI_IDS)
            except files.Missing:
                continue
            except files.FileError as e:
                logging.getLogger(__name__).warning(
                    '%s: device names left out', e)
                continue
            return cls(data.decode('utf-8', errors='replace'))
        return None

    @functools.lru_cache(maxsize=None)
    def _vendor(self, vendor: str) -> tuple[str, int, int] | None:
        """(name, start, end) of a vendor's section."""
        start = self._text.find('\n%s  ' % vendor)
        if start < 0:
            return None
        line_end = self._text.find('\n', start + 1)
        m = _SECTION_END.search(self._text, line_end)
        end = m.start() if m else len(self._text)
        return self._text[start + 7:line_end].strip(), line_end, end

    def vendor_name(self, vendor: str) -> str | None:
        found = self._vendor(vendor.lower())
        return _printable(found[0]) if found else None

    # A listing asks for the same few ids thousands of times, and a search
    # of a large vendor's section costs ~0.04 ms.
    @functools.lru_cache(maxsize=None)
    def device_name(self, vendor: str, product: str) -> str | None:
        found = self._vendor(vendor.lower())
        if not found:
            return None
        _, start, end = found
        at = self._text.find('\n\t%s  ' % product.lower(), start, end)
        if at < 0:
            return None
        return _printable(
            self._text[at + 8:self._text.find('\n', at + 1)].strip())

    def device_names(self, vendor: str) -> list[str]:
        """Every device name of one vendor."""
        found = self._vendor(vendor.lower())
        if not found:
            return []
        _, start, end = found
        return [m.group(2).strip() for m in
                _DEVICE_LINE.finditer(self._text, start, end)
                if _printable(m.group(2).strip())]


@functools.lru_cache(maxsize=1)
def system() -> Database | None:
    """The system's pci.ids, read on first use; None if there is none."""
    return Database.load()


def _printable(name):
    """The name, unless it holds control characters (it reaches tables
    and nova.conf comments)."""
    return name if name.isprintable() else None


def names(vendor: str, product: str) -> tuple[str | None, str | None]:
    """(vendor name, device name) for vendor:product ids, from the system's
    pci.ids, else the built-in table; None where neither knows."""
    vendor, product = vendor.lower(), product.lower()
    db = system()
    vendor_name = db.vendor_name(vendor) if db else None
    device_name = db.device_name(vendor, product) if db else None
    return (vendor_name or VENDORS.get(vendor),
            device_name or DEVICES.get('%s:%s' % (vendor, product)))


def device_names(vendor: str) -> list[str]:
    """Every device name known for a vendor, from either source."""
    db = system()
    found = db.device_names(vendor) if db else []
    return found + [name for ident, name in DEVICES.items()
                    if ident.startswith(vendor.lower() + ':')]
