"""The nova.conf GPU settings a host's hardware calls for. Pure functions
over sysfs.Host; nova_checks finds the mistakes in a nova.conf.

From nova 34's source: the libvirt driver's dev_type (a function with a
physfn is type-VF, one with sriov_totalvfs is type-PF),
nova/pci/devspec.py (one_time_use not on VFs, and only with
report_in_placement), nova/compute/pci_placement_translator.py (a PF and
its VFs cannot both be reported; the class is the spec's resource_class
or CUSTOM_PCI_<V>_<P>), nova/conf/scheduler.py (PciPassthroughFilter is
not a default filter). NVIDIA's kernel variant driver (vGPU 17+): its VFs
are passed through with `managed: no` (Nova 31's devspec), one
device_spec per VF by address and a class per vGPU type, as Nova's PCI
passthrough guide writes them ("Support for multiple types of VFs").
"""
from __future__ import annotations

import dataclasses
import json
import re

from oslo_utils import strutils

from gpuclient.model import devices
from gpuclient.model import labels
from gpuclient.hostconfig import nova_checks
from gpuclient.hostconfig import novaconf
from gpuclient.model import pciids
from gpuclient.model import releases
from gpuclient.hostconfig import sysfs

VFIO = 'vfio-pci'
# The compute node's provider: named after libvirt's hostname of the host
# (the hypervisor hostname), which a copy of /sys does not tell.
ROOT = '<hypervisor>'
PCI_TRAITS = ('COMPUTE_MANAGED_PCI_DEVICE',)   # OWNER_NOVA: 2026.2 on
# words of a pci.ids name that make poor alias names
_BRAND = {'geforce', 'radeon', 'instinct', 'tesla', 'quadro', 'nvidia',
          'mxgpu', 'pcie', 'sxm4', 'sxm5', 'sxm'}


@dataclasses.dataclass(frozen=True)
class Setting:
    section: str
    option: str
    value: object          # dict for device_spec/alias entries, else plain
    comment: str = ''


@dataclasses.dataclass
class Settings:
    compute: list[Setting]
    controller: list[Setting]
    devices: list[dict]
    warnings: list[str]
    placement: list[dict] = dataclasses.field(default_factory=list)
    # the PFs whose VFs must be enabled at every boot (sriov_unit)
    sriov_gpus: list[str] = dataclasses.field(default_factory=list)
    # variant driver: [VF address, type id] to set at every boot, after
    # the VFs are enabled (vgpu_type_unit)
    vgpu_types: list[list[str]] = dataclasses.field(default_factory=list)


# seed 004's unit, run for each SR-IOV vGPU GPU (nova_checks.SRIOV_MANAGE)
SRIOV_UNIT = '''[Unit]
Description=Enable NVIDIA GPU virtual functions of %i
After=nvidia-vgpu-mgr.service nvidia-vgpud.service
Before=nova-compute.service

[Service]
Type=oneshot
ExecStart=''' + nova_checks.SRIOV_MANAGE + ''' -e %i
TimeoutSec=120
RemainAfterExit=true

[Install]
WantedBy=multi-user.target'''


def sriov_unit(gpus: list[str]) -> str:
    """The systemd template unit enabling the GPUs' VFs at boot, and the
    commands that enable it for each GPU; '' without SR-IOV vGPU GPUs."""
    if not gpus:
        return ''
    return '\n'.join(
        ['# /etc/systemd/system/nvidia-sriov-manage@.service'] + [
            ('# ' + line).rstrip() for line in SRIOV_UNIT.splitlines()]
        + ['# then: systemctl enable --now nvidia-sriov-manage@%s.service'
           % gpu for gpu in gpus]) + '\n'


# The variant driver's VFs come back with no type at every boot: a unit
# sets it, between enabling the VFs and starting nova-compute (as the
# ntnusky/ntnuopenstack Puppet module's set-vgpu-types.service does).
TYPE_UNIT = '''[Unit]
Description=Set the vGPU type of the NVIDIA VFs Nova passes through
After=%s
Before=nova-compute.service

[Service]
Type=oneshot
%s
RemainAfterExit=true

[Install]
WantedBy=multi-user.target'''


def vgpu_type_unit(types: list[list[str]]) -> str:
    """The systemd unit that sets each VF's current_vgpu_type at boot, and
    the command that enables it; '' without variant-driver VFs."""
    if not types:
        return ''
    gpus = sorted({a.rpartition(':')[0] + ':00.0' for a, _ in types})
    unit = TYPE_UNIT % (
        ' '.join('nvidia-sriov-manage@%s.service' % g for g in gpus),
        '\n'.join("ExecStart=/bin/sh -c 'echo %s > /sys/bus/pci/devices/%s/"
                  "nvidia/current_vgpu_type'" % (t, a) for a, t in types))
    return '\n'.join(
        ['# /etc/systemd/system/nvidia-vgpu-types.service'] + [
            ('# ' + line).rstrip() for line in unit.splitlines()]
        + ['# then: systemctl enable --now nvidia-vgpu-types.service']) + '\n'


def _ini_value(value):
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (list, tuple)):
        return ','.join(value)
    return str(value)


def ini(settings: list[Setting]) -> str:
    """nova.conf text: sections in first-use order, repeated options
    (device_spec, alias) one line each, comments above their line.
    Raises ValueError rather than write a line it does not mean to (a
    value with a line break would start a setting of its own)."""
    sections: dict[str, list[Setting]] = {}
    for s in settings:
        sections.setdefault(s.section, []).append(s)
    blocks = []
    for section, items in sections.items():
        lines = ['[%s]' % section]
        for s in items:
            lines.extend('# %s' % c for c in s.comment.split('\n') if c)
            lines.append('%s = %s' % (s.option, _ini_value(s.value)))
        blocks.append('\n'.join(_one_line(line) for line in lines))
    return '\n\n'.join(blocks) + '\n' if blocks else ''


def _one_line(line):
    if not line.isprintable():
        raise ValueError('refusing to write %r into nova.conf: it is not '
                         'one printable line' % line)
    return line


def as_data(settings: list[Setting]) -> dict:
    """{section: {option: value}}; device_spec and alias are lists."""
    data: dict[str, dict] = {}
    for s in settings:
        options = data.setdefault(s.section, {})
        if s.option in ('device_spec', 'alias'):
            options.setdefault(s.option, []).append(s.value)
        else:
            options[s.option] = s.value
    return data


def _names(f: sysfs.PciFunction) -> str:
    vendor, device = pciids.names(f.vendor_id, f.product_id)
    return device or '%s:%s' % (f.vendor_id, f.product_id)


def alias_name(f: sysfs.PciFunction, prefix: str = '') -> str:
    """A short alias name from the device's model: 'A30' -> 'a30', a VF
    of 'MI25 MxGPU' -> 'mi25-vf'; pci.ids' 'GH100 [H100 SXM5 80GB]' ->
    'h100-80gb' (the first of several '/'-separated names)."""
    _, device = pciids.names(f.vendor_id, f.product_id)
    model = devices.short_model('%s:%s' % (f.vendor_id, f.product_id),
                                device) or ''
    words = [w for w in re.split(r'[^a-z0-9]+', model.split('/')[0].lower())
             if w and w not in _BRAND]
    name = '-'.join(words) or '%s-%s' % (f.vendor_id, f.product_id)
    if f.device_type == 'type-VF':
        name += '-vf'
    return prefix + name


def _role(host: sysfs.Host, f: sysfs.PciFunction) -> str:
    if f.physfn and f.current_vgpu_type is not None:
        return 'vgpu-variant-vf'       # passed through as its GPU's role says
    if f.sriov_numvfs > 0:
        vfs = [host.functions[v] for v in f.virtfns if v in host.functions]
        if any(v.current_vgpu_type is not None for v in vfs):
            return 'vgpu-variant'      # NVIDIA's variant driver: typed VFs
        if any(v.mdev_types for v in vfs):
            return 'vgpu-vfs'          # an SR-IOV GPU: its VFs hold vGPUs
        return 'vfs'                   # its VFs are passed through instead
    if f.mdev_types and f.driver != VFIO:
        return 'vgpu'
    if f.sriov_totalvfs > 0 and f.driver not in (None, VFIO):
        return 'vfs-off'               # SR-IOV, VFs not enabled, host-held
    return 'passthrough'


def generate(host: sysfs.Host, vendor_ids=(), one_time_use=False,
             live_migratable=False, alias_prefix='', mdev_types=(),
             classes=None, traits=None,
             release: str = releases.NEWEST) -> Settings:
    """Settings for the GPUs (display-class functions) of one host,
    optionally of some vendors only. classes {'vendor:product': resource
    class} and traits {'vendor:product': [trait, ...]} go into those
    devices' device_spec (and the class into their alias). `release`
    decides the providers predicted; one_time_use and live_migratable
    must be settings it has (raises ValueError otherwise)."""
    for feature, wanted in (('one_time_use', one_time_use),
                            ('live_migratable', live_migratable)):
        if wanted and not releases.has(feature, release):
            raise ValueError('%s; this is %s' % (releases.needs(feature),
                                                 release))
    vendor_ids = {v.lower() for v in vendor_ids}
    gpus = [f for f in host.functions.values() if f.is_gpu
            and (not vendor_ids or f.vendor_id in vendor_ids)]
    warnings = list(host.warnings)
    if not host.iommu:
        warnings.append(
            'the IOMMU is off (no %s/kernel/iommu_groups): no device can be '
            'passed through; add intel_iommu=on (or amd_iommu=on) iommu=pt '
            'to the kernel command line and reboot' % host.root.rstrip('/'))
    if not gpus:
        warnings.append('no GPU (PCI class 03) found%s' % (
            ' of vendor %s' % ', '.join(sorted(vendor_ids))
            if vendor_ids else ''))
    roles = {f.address: _role(host, f) for f in gpus}
    passthrough = [f for f in gpus if roles[f.address] == 'passthrough']
    vgpus = [f for f in gpus if roles[f.address] == 'vgpu']
    compute, controller, rows = [], [], []
    specs = _device_specs(host, passthrough, one_time_use, live_migratable,
                          warnings)
    classes, traits = classes or {}, traits or {}
    for pci_id in sorted(set(classes) | set(traits)):
        if not any('%s:%s' % (s['vendor_id'], s['product_id']) == pci_id
                   for s, _ in specs):
            warnings.append('no passthrough device %s on this host: its '
                            'resource class or traits are left out' % pci_id)
    for spec, _ in specs:
        pci_id = '%s:%s' % (spec['vendor_id'], spec['product_id'])
        if classes.get(pci_id):
            spec['resource_class'] = novaconf.normalize_class(
                classes[pci_id])
        if traits.get(pci_id):
            spec['traits'] = ','.join(novaconf.normalize_trait(t)
                                      for t in traits[pci_id])
    names = {}
    for spec, members in specs:
        compute.append(Setting('pci', 'device_spec', spec, '%s: %s' % (
            _names(members[0]), ', '.join(f.address for f in members))))
        first = members[0]
        name = alias_name(first, alias_prefix)
        if name in names.values():
            name = '%s-%s' % (name, first.product_id)
        alias = {'name': name, 'vendor_id': first.vendor_id,
                 'product_id': first.product_id,
                 'device_type': first.device_type}
        if spec.get('resource_class'):
            alias['resource_class'] = spec['resource_class']
        if live_migratable:
            alias['live_migratable'] = 'yes'
        for f in members:
            names[f.address] = name
        rc = novaconf.resource_class(spec.get('resource_class'),
                                     first.vendor_id, first.product_id)
        controller.append(Setting('pci', 'alias', alias, '%d on this host, '
                                  'class %s' % (len(members), rc)))
    variant = [f for f in gpus if roles[f.address] == 'vgpu-variant']
    types = _variant_settings(host, variant, alias_prefix, release, compute,
                              controller, names, warnings)
    if specs or types:
        compute.append(Setting('pci', 'report_in_placement', True))
        controller.append(Setting('filter_scheduler', 'pci_in_placement',
                                  True, 'after report_in_placement is on on '
                                  'every compute host'))
        controller.append(Setting(
            'filter_scheduler', 'enabled_filters',
            list(novaconf.DEFAULT_FILTERS) + [novaconf.PCI_FILTER],
            "Nova's default filters and %s (keep any others you enabled)"
            % novaconf.PCI_FILTER))
    chosen = _mdev_settings(vgpus, mdev_types, compute, warnings)
    for f in gpus:
        _warn_host_side(host, f, roles[f.address], warnings)
        rows.append({
            'address': f.address, 'vendor_id': f.vendor_id,
            'product_id': f.product_id, 'name': _names(f),
            'device_type': f.device_type, 'driver': f.driver,
            'iommu_group': f.iommu_group, 'numa_node': f.numa_node,
            'use': roles[f.address], 'alias': names.get(f.address),
            'mdev_type': chosen.get(f.address),
            'vgpu_type': next((host.vgpu_type_name(host.functions[a])
                               for a, _ in types if a in f.virtfns), None)})
    return Settings(compute, controller, rows, warnings,
                    placement(host, compute, release),
                    [f.address for f in gpus if roles[f.address] in (
                        'vgpu-vfs', 'vgpu-variant')], types)


def _variant_settings(host, gpus, alias_prefix, release, compute,
                      controller, names, warnings) -> list[list[str]]:
    """[pci] device_spec for the VFs of variant-driver GPUs that have a
    vGPU type, one per VF by address (the VFs share their GPU's product
    id, so a spec by product would match the GPU too), `managed: no` (the
    VF stays with NVIDIA's driver), a class per type, and the label traits
    that name the type and the GPU (labels.LABEL_TYPE, LABEL_PCI); an
    alias per type; [[VF, type id]] for vgpu_type_unit."""
    if gpus and not releases.has('managed', release):
        warnings.append('%s; this is %s: its Nova would detach the VFs from '
                        'NVIDIA\'s driver' % (releases.needs('managed'),
                                               release))
    found, aliases = [], {}
    for gpu in gpus:
        vfs = [host.functions[a] for a in gpu.virtfns
               if a in host.functions]
        typed = {}
        for vf in vfs:
            name = host.vgpu_type_name(vf)
            if name:
                typed.setdefault(name, []).append(vf)
            elif vf.current_vgpu_type not in (None, sysfs.NO_VGPU_TYPE):
                warnings.append('%s has vGPU type %s, which no '
                                'creatable_vgpu_types of its GPU names: left '
                                'out' % (vf.address, vf.current_vgpu_type))
        if not typed:
            warnings.append(
                '%s (%s): none of its %d VFs has a vGPU type: set one on '
                'each VF to use (echo ID > /sys/bus/pci/devices/<VF>/nvidia/'
                'current_vgpu_type; this GPU offers %s), then run this again'
                % (gpu.address, _names(gpu), len(vfs), ', '.join(
                    '%s %s' % (t.id, t.name)
                    for t in gpu.creatable_vgpu_types) or 'none'))
            continue
        name = max(typed, key=lambda n: len(typed[n]))
        if len(typed) > 1:
            warnings.append(
                'the VFs of %s have %d vGPU types (%s): Nova counts a GPU\'s '
                'VFs on one provider of one class and refuses two '
                '(PlacementPciMixedResourceClassException); only the %s VFs '
                'are written: give every VF one type' % (
                    gpu.address, len(typed), ', '.join(sorted(typed)), name))
        vf_type = labels.type_trait_name(name)
        rc = 'CUSTOM_VGPU_' + vf_type
        traits = sorted(labels.type_traits(
            '%s:%s' % (gpu.vendor_id, gpu.product_id), name))
        members = typed[name]
        for n, vf in enumerate(members):
            compute.append(Setting('pci', 'device_spec', {
                'vendor_id': vf.vendor_id, 'product_id': vf.product_id,
                'address': vf.address, 'managed': 'no',
                'resource_class': rc, 'traits': ','.join(traits)},
                '' if n else '%s: %d VFs of %s, vGPU type %s' % (
                    _names(gpu), len(members), gpu.address, name)))
            found.append([vf.address, vf.current_vgpu_type])
        alias = aliases.get(rc)
        if alias is None:
            alias = aliases[rc] = {
                'name': alias_prefix + vf_type.lower().replace('_', '-'),
                'vendor_id': gpu.vendor_id, 'product_id': gpu.product_id,
                'device_type': 'type-VF', 'resource_class': rc}
            controller.append(Setting('pci', 'alias', alias,
                                      'vGPUs of type %s, class %s' % (name,
                                                                      rc)))
        names[gpu.address] = alias['name']
    return found


def placement(host: sysfs.Host, compute: list[Setting],
              release: str = releases.NEWEST) -> list[dict]:
    """The device providers Nova makes under the compute node's provider
    (ROOT) from these compute settings (as generate writes them) on this
    hardware, as the release's Nova makes them, sorted by name. Nova 34
    (2026.2) brought OWNER_NOVA and HW_PCI_LIVE_MIGRATABLE; before, the
    providers have neither.

    pci_placement_translator, with report_in_placement: a type-PCI or
    type-PF function the first matching device_spec picks is provider
    <root>_<ADDRESS> of total 1; picked VFs count on their PF's provider;
    the class is the spec's resource_class or CUSTOM_PCI_<V>_<P>, the
    traits the spec's plus COMPUTE_MANAGED_PCI_DEVICE, OWNER_NOVA,
    HW_PCI_LIVE_MIGRATABLE (live_migratable) and HW_PCI_ONE_TIME_USE
    (one_time_use, not on VFs). The libvirt driver's
    _get_supported_vgpu_types, _get_gpu_inventories and
    _ensure_pgpu_providers: a GPU of an enabled mdev type (its
    [mdev_<type>] device_addresses, else the first type without any) is
    <root>_pci_<libvirt name> with class VGPU, trait OWNER_NOVA and the
    type's available instances as total (none: no provider).
    """
    data = as_data(compute)
    pci = data.get('pci', {})
    specs = pci.get('device_spec', []) if pci.get(
        'report_in_placement') else []
    found: dict[str, dict] = {}
    for f in host.functions.values():
        spec = next((s for s in specs if nova_checks.spec_matches(s, f)),
                    None)
        if spec is None:
            continue
        is_vf = f.device_type == 'type-VF'
        name = '%s_%s' % (ROOT, (f.physfn if is_vf else f.address).upper())
        traits = {novaconf.normalize_trait(t)
                  for t in spec.get('traits', '').split(',') if t}
        traits.update(PCI_TRAITS)
        if strutils.bool_from_string(spec.get('live_migratable')) and (
                releases.has('live_migratable_trait', release)):
            traits.add('HW_PCI_LIVE_MIGRATABLE')
        if strutils.bool_from_string(spec.get('one_time_use')) and not is_vf:
            traits.add('HW_PCI_ONE_TIME_USE')
        provider = found.setdefault(name, {
            'provider': name, 'resource_class': novaconf.resource_class(
                spec.get('resource_class'), f.vendor_id, f.product_id),
            'total': 0, 'traits': sorted(traits), 'devices': []})
        provider['total'] += 1
        provider['devices'].append(f.address)
    typed, default = {}, None
    for t in data.get('devices', {}).get('enabled_mdev_types', ()):
        addresses = data.get('mdev_%s' % t, {}).get('device_addresses')
        if not addresses:
            default = default or t
        typed.update((a, t) for a in addresses or ())
    for f in host.functions.values():
        offered = {m.id: m.available_instances for m in f.mdev_types}
        total = offered.get(typed.get(f.address, default))
        if total:
            name = '%s_pci_%s' % (ROOT, re.sub('[:.]', '_', f.address))
            found[name] = {'provider': name, 'resource_class': 'VGPU',
                           'total': total, 'traits': [],
                           'devices': [f.address]}
    if releases.has('owner_nova', release):
        for provider in found.values():
            provider['traits'] = sorted(set(provider['traits'])
                                        | {'OWNER_NOVA'})
    return [found[name] for name in sorted(found)]


def placement_text(providers: list[dict],
                   release: str = releases.NEWEST) -> str:
    """The predicted providers as nova.conf comment lines, saying which
    release's Nova they are predicted for."""
    if not providers:
        return ''
    lines = ['# Placement will show with %s\'s Nova (%s: this host\'s '
             'hypervisor hostname):' % (release, ROOT)]
    lines.extend('#   %s  %s total %d  %s' % (
        p['provider'], p['resource_class'], p['total'], ','.join(p['traits']))
        for p in providers)
    return '\n'.join(_one_line(line) for line in lines) + '\n'


def _device_specs(host, passthrough, one_time_use, live_migratable,
                  warnings):
    """[(spec, functions)]: one spec per vendor:product, by address where
    the product also has a PF whose VFs are used (a PF and its VFs must
    not both match)."""
    by_id: dict[tuple, list] = {}
    for f in passthrough:
        by_id.setdefault((f.vendor_id, f.product_id), []).append(f)
    vf_parents = {(f.vendor_id, f.product_id)
                  for f in host.functions.values() if f.sriov_numvfs > 0}
    found = []
    for (vendor, product), members in sorted(by_id.items()):
        spec = {'vendor_id': vendor, 'product_id': product}
        is_vf = members[0].device_type == 'type-VF'
        if one_time_use and is_vf:
            warnings.append('one_time_use left off %s:%s: Nova refuses it on '
                            'VFs' % (vendor, product))
        elif one_time_use:
            spec['one_time_use'] = 'true'
        if live_migratable:
            spec['live_migratable'] = 'true'
        if (vendor, product) in vf_parents:
            found.extend((dict(spec, address=f.address), [f])
                         for f in members)
        else:
            found.append((spec, members))
    return found


def _mdev_settings(vgpus, wanted, compute, warnings) -> dict[str, str]:
    """[devices]/[mdev_<type>] for the mdev-capable GPUs (an SR-IOV GPU's
    VFs, which device_addresses then lists); {address: type}. The first
    type each GPU lists unless types are asked for; GPUs are shared round
    robin between the asked types they support."""
    chosen: dict[str, str] = {}
    several: dict[tuple, list[str]] = {}
    # a GPU serves one type at a time: an SR-IOV GPU's VFs share its turn
    gpus = list(dict.fromkeys(f.physfn or f.address for f in vgpus))
    for f in vgpus:
        offered = [t.id for t in f.mdev_types]
        usable = [t for t in wanted if t in offered] if wanted else offered
        if not usable:
            warnings.append('%s offers none of the mdev types asked for (it '
                            'offers %s)' % (f.address, ', '.join(offered)))
            continue
        turn = gpus.index(f.physfn or f.address)
        chosen[f.address] = usable[turn % len(usable)] if wanted else (
            usable[0])
        if not wanted and len(offered) > 1:
            several.setdefault(tuple(offered), []).append(f.address)
    for offered, addresses in several.items():
        warnings.append('%s offer%s mdev types %s: enabled %s; pick others '
                        'with --mdev-type' % (
                            ', '.join(addresses),
                            '' if len(addresses) > 1 else 's',
                            ', '.join(offered), offered[0]))
    _cap_vfs(vgpus, chosen, warnings)
    types = list(dict.fromkeys(chosen.values()))
    if not types:
        return chosen
    compute.append(Setting('devices', 'enabled_mdev_types', types))
    for t in types:
        addresses = [a for a, c in chosen.items() if c == t]
        info = next(m for f in vgpus for m in f.mdev_types if m.id == t)
        gpus = {f.physfn for f in vgpus if f.address in addresses}
        compute.append(Setting(
            'mdev_%s' % t, 'device_addresses', addresses,
            '%s: the VFs of %s, one vGPU each' % (
                info.name or t, ', '.join(sorted(gpus)))
            if None not in gpus else
            '%s: %d instances per GPU available now' % (
                info.name or t, info.available_instances)))
        if None not in gpus and info.max_instance:
            # Nova's cap is per host, walking the VFs in order: at most the
            # VFs listed, each GPU's within its max_instance
            compute.append(Setting(
                'mdev_%s' % t, 'max_instances', len(addresses),
                '%d GPU(s), at most %d vGPUs each (max_instance)' % (
                    len(gpus), info.max_instance)))
    return chosen


def _cap_vfs(vgpus, chosen, warnings):
    """An SR-IOV GPU holds at most its type's max_instance vGPUs however
    many VFs it has (each VF offers 1 until the GPU is full): the VFs past
    that would be providers whose boots fail. Keeps each GPU's first."""
    by_gpu: dict[tuple, list[str]] = {}
    for f in vgpus:
        if f.physfn and f.address in chosen:
            by_gpu.setdefault((f.physfn, chosen[f.address]), []).append(
                f.address)
    for (gpu, t), vfs in sorted(by_gpu.items()):
        cap = next((m.max_instance for f in vgpus for m in f.mdev_types
                    if m.id == t and f.address in vfs), None)
        if cap and len(vfs) > cap:
            for vf in sorted(vfs)[cap:]:
                del chosen[vf]
            warnings.append(
                '%d VFs of %s offer %s, but the GPU holds at most %d of it '
                '(max_instance): device_addresses lists its first %d'
                % (len(vfs), gpu, t, cap, cap))


def _warn_host_side(host, f, role, warnings):
    if role == 'passthrough' and f.driver != VFIO:
        warnings.append(
            '%s (%s) is %s, not vfio-pci: bind it to vfio-pci (e.g. '
            'driverctl set-override %s vfio-pci) so the host does not hold '
            'it' % (f.address, _names(f), 'bound to %s' % f.driver
                    if f.driver else 'unbound', f.address))
    if role == 'vfs-off':
        warnings.append(
            '%s (%s) is an SR-IOV GPU held by %s with no VF enabled: for '
            'vGPUs enable its VFs at every boot (%s -e %s; the unit below), '
            'or bind it to vfio-pci to pass it through whole' % (
                f.address, _names(f), f.driver, nova_checks.SRIOV_MANAGE,
                f.address))
    if role == 'vgpu' and f.driver in (None, VFIO):
        warnings.append('%s offers mdev types but is bound to %s: vGPUs need '
                        'the vendor\'s vGPU manager driver'
                        % (f.address, f.driver))
    if role not in ('passthrough',):
        return
    for other in host.group_members(f):
        if other.driver == VFIO:
            continue
        if other.is_audio and other.slot == f.slot:
            warnings.append(
                '%s is the audio function of GPU %s and stays on the host '
                '(%s): bind it to vfio-pci too, or no VM can get the GPU '
                '(same IOMMU group %s)' % (other.address, f.address,
                                           other.driver or 'no driver',
                                           f.iommu_group))
        else:
            warnings.append(
                '%s shares IOMMU group %s with %s (%s, %s): a group goes to '
                'one VM as a whole; move the card to another slot or bind '
                'that device to vfio-pci' % (
                    f.address, f.iommu_group, other.address,
                    '%s:%s' % (other.vendor_id, other.product_id),
                    other.driver or 'no driver'))
