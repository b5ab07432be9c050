"""The GPU estate as Prometheus metrics, built with prometheus_client's own
registry and text writer: no I/O but the atomic file write.

Every name starts ``openstack_gpu_``: openstack-exporter's are
``openstack_placement_*``, ``openstack_nova_*`` and so on, so both can
feed one Prometheus.
"""
from __future__ import annotations

import collections
import dataclasses
import math
import os
import tempfile

from gpuclient.model import devices

PREFIX = 'openstack_gpu_'
# one_time_use: "true" for a device Nova reserves when it is released
# (state "reserved" then: waiting for a scrub).
# A device is a physical GPU (an SR-IOV GPU's VF providers summed:
# devices.by_gpu); vgpu_type from the labels of `gpu host label`.
DEVICE_LABELS = ('host', 'address', 'model', 'resource_class', 'kind',
                 'owner', 'state', 'one_time_use', 'vgpu_type')
# Device fields exported, and what each says (Placement's figures).
DEVICE_FIELDS = (
    ('capacity', 'total', 'Units the device offers (Placement inventory '
     'total: 1 per passthrough GPU, vGPUs per vGPU GPU, VFs per VF pool)'),
    ('used', 'used', 'Units held by servers (Placement allocations)'),
    ('reserved', 'reserved', 'Units reserved (Placement inventory '
     'reserved: out of service, or a one-time-use GPU awaiting scrubbing)'),
    ('free', 'free', 'Units free for new servers'),
)
# One series per (device, consumer): at most one per GPU unit in the
# cloud (a passthrough GPU has one holder; a vGPU GPU one per vGPU; a
# migration adds the target's for a while). instance_id is the server's
# UUID, as Prometheus' OpenStack service discovery names it
# (__meta_openstack_instance_id), for joining a DCGM exporter in the VM.
CONSUMER_LABELS = ('host', 'address', 'model', 'resource_class',
                   'instance_id', 'project_id')


def registry(found, capacity_rows, findings=(), checks=(), severities=(),
             consumers=()):
    """A CollectorRegistry of:

    - openstack_gpu_device_{capacity,used,reserved,free} per device;
    - openstack_gpu_consumer_units per device and consumer (rows of
      allocations.consumer_rows): the units it holds;
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
    gpus = devices.by_gpu(found)
    for name, field, doc in DEVICE_FIELDS:
        gauge = Gauge(PREFIX + 'device_' + name, doc, DEVICE_LABELS,
                      registry=reg)
        for d in gpus:
            gauge.labels(d.host, d.address or d.provider_name,
                         d.model or '', d.resource_class, d.kind,
                         d.owner or '', d.state,
                         str(bool(d.one_time_use)).lower(),
                         d.vgpu_type or '').set(getattr(d, field))
    held = Gauge(PREFIX + 'consumer_units', 'Units of the device a '
                 'consumer holds: instance_id is the server (a consumer '
                 'Nova has no server for: its own UUID), project_id the '
                 'server\'s project (empty if Nova has no server)',
                 CONSUMER_LABELS, registry=reg)
    for row in consumers:
        held.labels(row['host'], row['address'] or row['provider'],
                    row['model'] or '', row['resource_class'], row['server'],
                    row['project'] or '').inc(row['amount'])
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


# The services whose failures the exporter counts from its first scrape
# (a counter that appears only at its first error hides that error from
# rate() and increase()); 'exporter' is any other failure.
SERVICES = ('placement', 'compute', 'baremetal', 'exporter')


@dataclasses.dataclass
class Health:
    """What `gpu metrics --serve` knows of its own refreshes."""
    refreshes: int = 0
    ok: bool | None = None                 # the last refresh; None: none yet
    duration: float | None = None          # the last refresh's, seconds
    last_success: float | None = None      # Unix time the last good one ended
    errors: collections.Counter = dataclasses.field(
        default_factory=collections.Counter)   # service -> failed refreshes

    def succeeded(self, duration: float, now: float) -> None:
        self.refreshes += 1
        self.ok, self.duration, self.last_success = True, duration, now

    def failed(self, service: str, duration: float) -> None:
        self.refreshes += 1
        self.ok, self.duration = False, duration
        self.errors[service] += 1


def age_words(health: Health, now: float) -> str:
    """'120 s ago', or 'no refresh yet' for a log line."""
    if health.last_success is None:
        return 'no successful refresh yet'
    return '%d s ago' % round(now - health.last_success)


def health_families(health: Health, now: float) -> list:
    """The exporter's own series: openstack_gpu_exporter_*. Before the
    first refresh ends only the counters are there (an `up` of 0 then
    would fire the refresh alert at every restart)."""
    from prometheus_client.core import CounterMetricFamily
    from prometheus_client.core import GaugeMetricFamily

    name = PREFIX + 'exporter_'
    found = [CounterMetricFamily(
        name + 'refreshes', 'Refreshes of the estate ended, good or not',
        value=health.refreshes)]
    errors = CounterMetricFamily(
        name + 'refresh_errors', 'Refreshes that failed, by the service '
        'that failed them (exporter: anything else)', labels=['service'])
    for service in dict.fromkeys(SERVICES + tuple(sorted(health.errors))):
        errors.add_metric([service], health.errors[service])
    found.append(errors)
    if health.ok is None:
        return found
    found += [
        GaugeMetricFamily(name + 'up', '1 if the last refresh of the estate '
                          'succeeded, 0 if it failed', value=int(health.ok)),
        GaugeMetricFamily(name + 'stale', '1 if the GPU series are older '
                          'than the last refresh (it failed; they are the '
                          'last good one\'s, or none)',
                          value=int(not health.ok)),
        GaugeMetricFamily(name + 'refresh_duration_seconds', 'How long the '
                          'last refresh took', value=health.duration),
        GaugeMetricFamily(name + 'data_age_seconds', 'Seconds since the '
                          'refresh the GPU series come from ended (NaN: none '
                          'has succeeded)', value=math.nan
                          if health.last_success is None
                          else now - health.last_success),
    ]
    return found


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
