"""The GPU estate as Prometheus metrics, built with prometheus_client's own
registry and text writer: no I/O but the atomic file write.

Every name starts ``openstack_gpu_``: openstack-exporter's are
``openstack_placement_*``, ``openstack_nova_*`` and so on, so both can
feed one Prometheus.
"""
from __future__ import annotations

import collections
import os
import tempfile

PREFIX = 'openstack_gpu_'
DEVICE_LABELS = ('host', 'address', 'model', 'resource_class', 'kind',
                 'owner', 'state')
# Device fields exported, and what each says (Placement's figures).
DEVICE_FIELDS = (
    ('capacity', 'total', 'Units the device offers (Placement inventory '
     'total: 1 per passthrough GPU, vGPUs per vGPU GPU, VFs per VF pool)'),
    ('used', 'used', 'Units held by servers (Placement allocations)'),
    ('reserved', 'reserved', 'Units reserved (Placement inventory '
     'reserved: out of service, or a one-time-use GPU awaiting scrubbing)'),
    ('free', 'free', 'Units free for new servers'),
)


def registry(found, capacity_rows, findings=(), checks=(), severities=()):
    """A CollectorRegistry of:

    - openstack_gpu_device_{capacity,used,reserved,free} per device;
    - openstack_gpu_flavor_capacity_servers per flavor and host (more
      servers of the flavor that fit now, with what limits them), and
      openstack_gpu_flavor_capacity_known per flavor (0: its alias class is
      unknown);
    - openstack_gpu_audit_findings per check and severity (every check and
      severity named, zeros included).

    found: devices.Device list; capacity_rows: rows of
    flavor.capacity_rows(..., by_host=True); findings: audit.Finding list.
    """
    from prometheus_client import CollectorRegistry
    from prometheus_client import Gauge

    reg = CollectorRegistry()
    for name, field, doc in DEVICE_FIELDS:
        gauge = Gauge(PREFIX + 'device_' + name, doc, DEVICE_LABELS,
                      registry=reg)
        for d in found:
            gauge.labels(d.host, d.address or d.provider_name,
                         d.model or '', d.resource_class, d.kind,
                         d.owner or '', d.state).set(getattr(d, field))
    servers = Gauge(
        PREFIX + 'flavor_capacity_servers', 'More servers of the flavor that '
        'fit on the host now (Placement\'s arithmetic), and what runs out '
        'first', ('flavor', 'host', 'limited_by'), registry=reg)
    known = Gauge(PREFIX + 'flavor_capacity_known', '1 if the flavor\'s '
                  'capacity could be worked out, 0 if its PCI alias class is '
                  'unknown (give --nova-conf)', ('flavor',), registry=reg)
    for row in capacity_rows:
        known.labels(row['flavor']).set(row['servers'] is not None)
        if row['servers'] is not None:
            servers.labels(row['flavor'], row['host'] or '',
                           ','.join(row['limited_by'])).set(row['servers'])
    audit = Gauge(PREFIX + 'audit_findings', 'Findings of "openstack gpu '
                  'audit", per check and severity', ('check', 'severity'),
                  registry=reg)
    counts = collections.Counter((f.check, f.severity) for f in findings)
    for check in dict.fromkeys(list(checks) + [c for c, _ in counts]):
        for severity in dict.fromkeys(list(severities) + [
                s for c, s in counts if c == check]):
            audit.labels(check, severity).set(counts[check, severity])
    return reg


def exposition(reg) -> bytes:
    """The registry in Prometheus' text format."""
    from prometheus_client import generate_latest

    return generate_latest(reg)


def write(path: str, data: bytes) -> None:
    """Replace `path` with `data` atomically: a temporary file in the same
    directory (not *.prom, so node_exporter's textfile collector skips it),
    synced, then renamed over `path`. Readers see the old file or the new
    one, never part of one; the temporary file is removed on any failure.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path),
                               suffix='.tmp', dir=directory)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)   # mkstemp's 0600 would hide it from readers
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
