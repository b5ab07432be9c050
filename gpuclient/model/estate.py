"""The GPU estate as one `gpu audit` reads it (Estate), and what a check
says about it (Finding): the audit's model, no I/O. The checks are in
gpuclient/model/audit.py; `gpu metrics` reuses the same read.
"""
from __future__ import annotations

import collections
import dataclasses

from gpuclient.model import devices
from gpuclient.model import traits as traits_mod

ERROR, WARNING, INFO = 'error', 'warning', 'info'
SEVERITIES = (ERROR, WARNING, INFO)


@dataclasses.dataclass
class Finding:
    severity: str
    check: str
    subject: str
    detail: str
    fix: str


@dataclasses.dataclass
class Estate:
    """What one audit read: Placement's devices and providers, Nova's
    servers, flavors and migrations.

    devices: devices.build of a snapshot (every owner's); providers and
    inventories: the snapshot's raw listing and inventories (a vGPU GPU left
    without inventory is no Device); holders: trait -> the providers
    Placement lists for ?required=<trait>, for every custom trait in use
    and every trait a flavor requires; servers by UUID (with their
    flavor's extra specs, compute 2.47+); migrations: those in progress;
    hosts: hypervisor hostname -> Nova service host; nova_conf: a
    novaconf.NovaConf or None; host: the one host audited, or None for the
    whole cloud; nodes: the bare-metal nodes.
    """
    devices: list[devices.Device]
    providers: list[dict] = dataclasses.field(default_factory=list)
    inventories: dict[str, dict] = dataclasses.field(default_factory=dict)
    holders: dict[str, list[dict]] = dataclasses.field(default_factory=dict)
    servers: dict[str, dict] = dataclasses.field(default_factory=dict)
    flavors: list[dict] = dataclasses.field(default_factory=list)
    migrations: list[dict] = dataclasses.field(default_factory=list)
    hosts: dict[str, str] = dataclasses.field(default_factory=dict)
    nova_conf: object | None = None
    host: str | None = None
    # Ironic's nodes (every one: baremetal.node_device), whole cloud only
    nodes: list[devices.Device] = dataclasses.field(default_factory=list)

    def nova_devices(self) -> list[devices.Device]:
        return [d for d in self.devices if d.owner != devices.CYBORG]

    def audits(self, server: dict) -> bool:
        """Whether the server runs on the host audited (any, without
        --host): its GPUs elsewhere were not read."""
        if self.host is None:
            return True
        names = {self.host.lower()} | {
            n.lower() for d in self.devices for n in (d.host, d.hypervisor)
            if n}
        return bool(names & {(server.get(k) or '').lower() for k in (
            'OS-EXT-SRV-ATTR:host', 'OS-EXT-SRV-ATTR:hypervisor_hostname')})

    def custom_traits(self) -> dict[str, set[str]]:
        """provider UUID -> the custom traits it has."""
        found = collections.defaultdict(set)
        for trait, providers in self.holders.items():
            if trait.startswith(traits_mod.PREFIX):
                for p in providers:
                    found[p['uuid']].add(trait)
        return found
