"""`make bench`, SR-IOV vGPU hosts: what `gpu device list --host` costs on
the sandbox's SR-IOV hosts (Nova's libvirt driver: one provider per VF) as
their VFs get used, counted from keystoneauth's --debug log of Placement
requests, and the formula in physical GPUs and used VFs that fits it.

A free VF costs no request of its own (one listing per vGPU class tells
which VFs have room); a GPU costs the reads of its first VF, a VF in use
its own two. The cost of reading every VF provider (two requests each) is
printed beside it.
"""
from __future__ import annotations

import subprocess
import urllib.parse

import bench_ways

# (host, its physical GPUs, its VF providers): the default fleet's
HOSTS = (('vgpu-a40-1', 2, 16), ('vgpu-l4-1', 1, 6))
FLAVOR = ('bench-a40', 'CUSTOM_VGPU_A40', 'vgpu-a40-1')
USED = (0, 1, 2, 4)


def _placement_requests(nova, argv) -> list[str]:
    """The Placement requests of one `openstack` run."""
    url = next(e['url'] for service in nova._openstack('catalog', 'list')
               if service['Type'] == 'placement'
               for e in service['Endpoints'] if e['interface'] == 'public')
    netloc = urllib.parse.urlsplit(url).netloc
    run = subprocess.run([bench_ways.OPENSTACK, '--debug'] + argv,
                         env=nova.env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                         text=True)
    sent = []
    for line in run.stderr.splitlines():
        if line.startswith('REQ: curl'):
            words = line.split()
            url = words[words.index('-X') + 2].strip('"')
            if urllib.parse.urlsplit(url).netloc == netloc:
                sent.append(urllib.parse.urlsplit(url).path)
    return sent


def _reads(sent) -> int:
    """Per-provider reads (/resource_providers/<uuid>/...)."""
    return sum(1 for path in sent if path.count('/') > 2
               and path.startswith('/resource_providers/'))


def measure(nova) -> dict:
    """Requests of `gpu device list --host` per SR-IOV host, free, then
    with USED VFs of vgpu-a40-1 held by servers (booted here; the
    sandbox's stop deletes them)."""
    name, resource_class, host = FLAVOR
    nova._openstack('flavor', 'create', name, '--vcpus', '1', '--ram', '512',
                    '--disk', '1', '--property',
                    'resources:%s=1' % resource_class)
    rows = []
    for h, gpus, vfs in HOSTS:
        sent = _placement_requests(nova, bench_ways.DEVICE_LIST
                                   + ['--host', h])
        rows.append({'host': h, 'gpus': gpus, 'vf_providers': vfs,
                     'used_vfs': 0, 'requests': len(sent),
                     'reads': _reads(sent), 'every_vf_reads': 2 * vfs})
    booted = 0
    for used in USED[1:]:
        while booted < used:
            subprocess.run([bench_ways.SANDBOX, '--state-dir', nova.state,
                            'boot', '--wait', '--flavor', name,
                            'bench-a40-%d' % booted],
                           check=True, stdout=subprocess.DEVNULL)
            booted += 1
        sent = _placement_requests(nova, bench_ways.DEVICE_LIST
                                   + ['--host', host])
        rows.append({'host': host, 'gpus': 2, 'vf_providers': 16,
                     'used_vfs': used, 'requests': len(sent),
                     'reads': _reads(sent), 'every_vf_reads': 32})
    # a used VF that is its GPU's first (read anyway) costs nothing more
    bound = all(r['reads'] <= 2 * r['gpus'] + 2 * r['used_vfs']
                for r in rows)
    return {'rows': rows, 'formula': '2 x GPUs + 2 x used VFs',
            'within_formula': bound}


def report(result: dict) -> None:
    print()
    print('gpu device list --host on SR-IOV vGPU hosts (the sandbox\'s '
          'Placement): requests')
    header = '%-11s %5s %13s %9s %9s %6s %17s' % (
        'host', 'GPUs', 'VF providers', 'used VFs', 'requests', 'reads',
        'reading every VF')
    print(header)
    print('-' * len(header))
    for r in result['rows']:
        print('%-11s %5d %13d %9d %9d %6d %17d' % (
            r['host'], r['gpus'], r['vf_providers'], r['used_vfs'],
            r['requests'], r['reads'], r['every_vf_reads']))
    print('per-provider reads <= %s (free VFs: none), %s; the other '
          'requests are listings: one per label trait in use in the cloud '
          '(distinct GPU addresses, models, types, VF counts), not per GPU'
          % (result['formula'], 'every row within it'
             if result['within_formula'] else 'NOT every row within it'))
