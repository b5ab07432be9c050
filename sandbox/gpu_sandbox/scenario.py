"""The demo's scenario: something for a newcomer's first commands to show.

`gpu-sandbox scenario` (run by `make demo`, never by `gpu-sandbox start`,
so the tests' sandbox stays clean) makes one GPU flavor of each kind the
default fleet has and boots servers on them, through Nova's API as an
operator would: passthrough GPUs, VFs of an SR-IOV pool, vGPUs of both
vGPU hosts, and the two one-time-use H100s: one in use, one whose server
was deleted, so Nova left it reserved until someone scrubs it. Run
again, it makes only what is missing.
"""
from __future__ import annotations

import time

from gpu_sandbox import client

# (flavor, extra specs): the aliases are the default fleet's
FLAVORS = (
    ('gpu.a30', {'pci_passthrough:alias': 'a30:1'}),
    ('gpu.a100x2', {'pci_passthrough:alias': 'a100:2'}),
    ('gpu.mi25-vf', {'pci_passthrough:alias': 'mi25-vf:1'}),
    ('gpu.vgpu', {'resources:VGPU': '1'}),
    ('gpu.a16-vgpu', {'resources:CUSTOM_VGPU_A16': '1'}),
    ('gpu.h100', {'pci_passthrough:alias': 'h100:1'}),
)
SERVERS = (('demo-a30', 'gpu.a30'), ('demo-a100', 'gpu.a100x2'),
           ('demo-vf-1', 'gpu.mi25-vf'), ('demo-vf-2', 'gpu.mi25-vf'),
           ('demo-vgpu-1', 'gpu.vgpu'), ('demo-vgpu-2', 'gpu.vgpu'),
           ('demo-a16', 'gpu.a16-vgpu'), ('demo-h100', 'gpu.h100'))
# booted, then deleted once Nova has reserved its one-time-use GPU
RELEASED = ('demo-h100-done', 'gpu.h100')
H100 = ('gpu-h100-1_', 'CUSTOM_PCI_10DE_2330')
# Nova reserves a one-time-use device a moment after the claim.
RESERVE_TIMEOUT = 60
# What `make demo` prints after the listing: a command, and what it shows.
TRY = (
    ('openstack gpu allocation list',
     'which server holds which GPU, on which host'),
    ('openstack gpu flavor capacity',
     'how many more of each GPU flavor fit (no H100: why?)'),
    ('openstack gpu audit',
     'the released H100 waiting for its scrub, and the fix'),
)


def _placement(sandbox, path):
    return sandbox.session().get(
        sandbox.urls['placement'] + path,
        headers={'OpenStack-API-Version': 'placement 1.39'}).json()


def _flavors(sandbox) -> dict:
    return {f['name']: f['id'] for f in sandbox.compute(
        'GET', '/flavors?is_public=None').json()['flavors']}


def _servers(sandbox) -> dict:
    return {s['name']: s for s in sandbox.compute(
        'GET', '/servers/detail?all_tenants=1').json()['servers']}


def _h100s(sandbox) -> list[tuple[str, bool, bool]]:
    """(provider name, reserved, used) of each one-time-use H100."""
    prefix, rc = H100
    found = []
    for p in _placement(sandbox, '/resource_providers')[
            'resource_providers']:
        if p['name'].startswith(prefix):
            path = '/resource_providers/%s/' % p['uuid']
            inventory = _placement(sandbox, path + 'inventories')[
                'inventories'].get(rc, {})
            usage = _placement(sandbox, path + 'usages')['usages']
            found.append((p['name'], bool(inventory.get('reserved')),
                          bool(usage.get(rc))))
    return found


def build(sandbox: client.Sandbox, say=print) -> None:
    flavors = _flavors(sandbox)
    for name, specs in FLAVORS:
        if name in flavors:
            continue
        flavor = sandbox.compute('POST', '/flavors', json={'flavor': {
            'name': name, 'vcpus': 2, 'ram': 2048, 'disk': 10}}
        ).json()['flavor']
        sandbox.compute('POST', '/flavors/%s/os-extra_specs' % flavor['id'],
                        json={'extra_specs': specs})
        say('flavor %s: %s' % (name, ', '.join(
            '%s=%s' % kv for kv in specs.items())))
    servers = _servers(sandbox)
    wanted = [(name, flavor) for name, flavor in SERVERS
              if name not in servers]
    waiting = any(reserved and not used
                  for _, reserved, used in _h100s(sandbox))
    if not sandbox.release.one_time_use:
        say('no released one-time-use H100 on %s (one_time_use needs '
            '2025.2)' % sandbox.release.name)
    elif not waiting and RELEASED[0] not in servers:
        wanted.append(RELEASED)
    # One at a time: the sandbox's Nova (one process) once hung for good
    # on nine builds at once.
    for name, flavor in wanted:
        server = sandbox.wait(sandbox.boot(name, flavor)['id'])
        if server['status'] != 'ACTIVE':
            raise client.SandboxError('server %s is %s: %s' % (
                name, server['status'],
                (server.get('fault') or {}).get('message')))
        say('server %s on %s' % (name, server['OS-EXT-SRV-ATTR:host']))
    released = _servers(sandbox).get(RELEASED[0])
    if released:
        deadline = time.monotonic() + RESERVE_TIMEOUT
        while not all(reserved for _, reserved, used in _h100s(sandbox)
                      if used):
            if time.monotonic() > deadline:
                raise client.SandboxError(
                    'Nova did not reserve the H100 of %s' % RELEASED[0])
            time.sleep(0.5)
        sandbox.delete(released['id'])
        say('server %s deleted: its one-time-use H100 stays reserved until '
            'scrubbed' % RELEASED[0])
