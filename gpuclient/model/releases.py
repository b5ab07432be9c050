"""Which OpenStack release a cloud runs, told by Nova's maximum compute
API microversion, and the release each GPU setting needs. No I/O.

The maxima are each release's nova/api/openstack/api_version_request.py
_MAX_API_VERSION (Nova 29.4.0 ... 34.0.0 on PyPI). Two releases in a row
can share one (no API change between them): then the cloud is "2025.1 or
2025.2", and a setting that needs the later one is a warning, not an
error. Placement's maximum is 1.39 on all of them, so it tells nothing.
"""
from __future__ import annotations

import dataclasses

# (release, Nova's major version, its maximum compute microversion)
RELEASES = (
    ('2024.1', 29, '2.96'),
    ('2024.2', 30, '2.96'),
    ('2025.1', 31, '2.100'),
    ('2025.2', 32, '2.100'),
    ('2026.1', 33, '2.103'),
    ('2026.2', 34, '2.104'),
)
NAMES = tuple(name for name, _, _ in RELEASES)
NEWEST = NAMES[-1]
OLDEST = NAMES[0]


@dataclasses.dataclass(frozen=True)
class Feature:
    release: str   # the first release that has it
    what: str      # what an operator would set or see


# What each release brought that the plugin reads, writes or checks
# (nova/pci/devspec.py, nova/pci/request.py _ALIAS_SCHEMA, the PCI
# placement translator and the libvirt driver of each release).
FEATURES = {
    'one_time_use': Feature('2025.2', 'device_spec one_time_use'),
    'live_migratable': Feature(
        '2025.1', 'device_spec and [pci] alias live_migratable'),
    'owner_nova': Feature('2026.2', 'the OWNER_NOVA trait on Nova\'s '
                                    'providers'),
    'live_migratable_trait': Feature(
        '2026.2', 'the HW_PCI_LIVE_MIGRATABLE trait on live-migratable '
                  'devices'),
    'managed': Feature('2025.1', 'device_spec managed (the VFs of NVIDIA\'s '
                                 'variant driver)'),
    'vgpu_request_groups': Feature('2026.1', 'several vGPU request groups '
                                             'in one flavor'),
}


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split('.'))


def from_compute(max_version: str) -> tuple[str, ...]:
    """The releases whose Nova has this maximum compute microversion: one
    or two; a newer maximum than any known is the newest release (and
    later), an older one the oldest's predecessors (empty)."""
    found = tuple(name for name, _, top in RELEASES if top == max_version)
    if found:
        return found
    if _key(max_version) > _key(RELEASES[-1][2]):
        return (NEWEST,)
    # between two known maxima: a development Nova, newer than the last
    older = [name for name, _, top in RELEASES
             if _key(top) < _key(max_version)]
    return (older[-1],) if older else ()


def check(name: str) -> str:
    if name not in NAMES:
        raise ValueError('unknown release %r: give one of %s'
                         % (name, ', '.join(NAMES)))
    return name


def has(feature: str, release: str) -> bool:
    return NAMES.index(release) >= NAMES.index(FEATURES[feature].release)


def verdict(feature: str, candidates: tuple[str, ...]) -> str | None:
    """None if every candidate release has the feature; 'no' if none has;
    'maybe' if only the later of two does."""
    found = {has(feature, r) for r in candidates}
    if found == {True}:
        return None
    return 'no' if found == {False} else 'maybe'


def needs(feature: str) -> str:
    """'one_time_use needs 2025.2 or later'."""
    f = FEATURES[feature]
    return '%s needs %s or later' % (f.what, f.release)


def words(candidates: tuple[str, ...]) -> str:
    return ' or '.join(candidates)
