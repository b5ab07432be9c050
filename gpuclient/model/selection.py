"""Which device an operator means: a provider UUID (any case, with or
without dashes), a provider name, HOST:ADDRESS with either of Nova's names
for the host, a bare address one host has, or a VF's address (its pool).
Pure functions over devices.Device lists, no I/O."""
from __future__ import annotations

import re

from gpuclient.model import devices


class HostNames:
    """Nova's two names for a compute host: the hypervisor hostname (the
    root provider's name; an FQDN on many libvirt clouds) and the service
    host (compute service list, server show, aggregates)."""

    def __init__(self, hypervisors: list[dict]):
        self.mapping = {h['hypervisor_hostname']: h['service']['host']
                        for h in hypervisors
                        if h.get('hypervisor_hostname') and h.get('service')}

    def service_host(self, hypervisor: str) -> str:
        lowered = {k.lower(): v for k, v in self.mapping.items()}
        return lowered.get(hypervisor.lower(), hypervisor)

    def hypervisors(self, name: str) -> list[str]:
        """The hypervisor hostnames a name stands for: either spelling, in
        any case (a service host may run several nodes)."""
        name = name.lower()
        return sorted(h for h, s in self.mapping.items()
                      if name in (h.lower(), s.lower()))


class NoSuchDevice(LookupError):
    pass


EXPECTED = ('provider UUID, provider name or HOST:ADDRESS '
            '(e.g. gpu-a30-1:0000:81:00.0)')


def check_selector(text: str) -> None:
    """One line for a name that cannot name a device, before any request:
    empty, or HOST:<something that is not an address> (gpu-a30-1:81:00)."""
    if not text.strip():
        raise NoSuchDevice('an empty device name: give a %s' % EXPECTED)
    if (devices.normalise_address(text) or devices.is_uuid(text)
            or devices.split_host_address(text)
            or devices.normalise_address(text.rsplit('_', 1)[-1])):
        return
    host, sep, rest = text.partition(':')
    if sep and re.match(r'^[0-9a-f:._]+$', rest, re.I):
        raise NoSuchDevice(
            '%r is not HOST:ADDRESS: write the address as '
            '[DOMAIN:]BUS:SLOT.FUNCTION, e.g. %s:0000:81:00.0'
            % (text, host or 'gpu-a30-1'))


def pf_address(address: str) -> str:
    """The function-0 address on the same domain:bus:slot: where Nova puts
    a VF pool's provider when the VFs sit on their PF's bus and slot."""
    return address.rsplit('.', 1)[0] + '.0'


def select(found: list[devices.Device], text: str) -> devices.Device:
    """The one device named by provider UUID, provider name, HOST:ADDRESS
    (host: service host or hypervisor hostname, any case), or a bare
    address that exactly one host has. A VF's address finds its pool; an
    SR-IOV vGPU GPU's address, the GPU (its VF providers merged: by_gpu),
    and a VF provider's own name or address, that VF."""
    check_selector(text)
    uuid = devices.is_uuid(text) and text.lower().replace('-', '')
    for d in found:
        if uuid and d.provider_uuid.replace('-', '') == uuid:
            return d
        if d.provider_name.lower() == text.lower():
            return d
    bare = devices.normalise_address(text)
    found = found + [g for g in devices.by_gpu(found) if g.vfs]
    if bare:
        hosts = [d for d in found if d.address == bare]
        if len(hosts) == 1:
            return hosts[0]
        raise NoSuchDevice(
            '%r is an address: name the host too: HOST:ADDRESS (e.g. '
            '%s:%s)%s' % (text, hosts[0].host if hosts else 'gpu-a30-1',
                          bare, '; %d hosts have it' % len(hosts)
                          if hosts else ''))
    host_address = devices.split_host_address(text)
    if host_address:
        host, address = host_address[0].lower(), host_address[1]
        on_host = [d for d in found
                   if host in (d.host.lower(), (d.hypervisor or '').lower())]
        for d in on_host:
            if d.address == address:
                return d
        for d in on_host:
            if d.vf_pool and d.address == pf_address(address):
                return d
    raise NoSuchDevice('no GPU device %r: name one by %s' % (text, EXPECTED))
