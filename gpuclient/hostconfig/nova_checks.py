"""The mistakes in nova.conf GPU settings, each with its fix. Pure
functions over novaconf.NovaConf and, where given, sysfs.Host.

What Nova does is from nova 34's source: nova/pci/devspec.py
(one_time_use needs report_in_placement, never on a VF),
nova/compute/pci_placement_translator.py (a PF and its VFs cannot both be
reported), nova/pci/request.py (an alias name may repeat only with the
same device_type and numa_policy, and not at all with pci_in_placement),
nova/conf/devices.py and the libvirt driver (one GPU, one mdev type).
"""
from __future__ import annotations

import dataclasses
import fnmatch
import json
import re

from oslo_utils import strutils

from gpuclient.hostconfig import novaconf
from gpuclient.hostconfig import sysfs
from gpuclient.model import releases

# seed 004 (Nova's vGPU guide): NVIDIA's tool that enables an SR-IOV GPU's
# VFs, at every boot, before nova-compute lists them.
SRIOV_MANAGE = '/usr/lib/nvidia/sriov-manage'

ERROR = 'error'
WARNING = 'warning'


@dataclasses.dataclass(frozen=True)
class Finding:
    level: str             # ERROR or WARNING
    where: str             # 'file:line', or '' for the files as a whole
    problem: str           # what is wrong and the fix, one line


def _hex_id(value) -> str:
    """A vendor or product id as sysfs spells it (4 lower-case digits):
    nova.conf may write '10DE' or '1eb'."""
    return str(value).strip().lower().zfill(4)


def _address_fields(address: str) -> list[str]:
    dbs, _, function = address.partition('.')
    parts = dbs.split(':')
    parts = ['*'] * (3 - len(parts)) + parts[-3:]
    return [p or '*' for p in parts] + [function or '*']


def spec_matches(spec: dict, f: sysfs.PciFunction) -> bool:
    """Whether a device_spec matches a function, as nova/pci/devspec.py
    matches ids and addresses (glob: '*' or hex per field; or a dict of
    regular expressions). A devname spec matches nothing here."""
    for key, have in (('vendor_id', f.vendor_id),
                      ('product_id', f.product_id)):
        want = str(spec.get(key, '*')).strip()
        if want != '*' and _hex_id(want) != have:
            return False
    if 'devname' in spec:
        return False
    address = spec.get('address', '*:*:*.*')
    real = _address_fields(f.address)
    if isinstance(address, dict):
        wanted = [address.get(k, '.*')
                  for k in ('domain', 'bus', 'slot', 'function')]
        return all(re.fullmatch(str(w), r) for w, r in zip(wanted, real))
    for want, have in zip(_address_fields(str(address)), real):
        if want != '*' and not fnmatch.fnmatch(have, want) and not (
                re.fullmatch('[0-9a-fA-F]+', want)
                and int(want, 16) == int(have, 16)):
            return False
    return True


def _spec_class(spec: dict) -> str | None:
    """The class Nova reports a spec's devices with; None when only the
    hardware would tell (no resource_class, ids not both given)."""
    ids = spec.get('vendor_id'), spec.get('product_id')
    if not spec.get('resource_class') and (
            not all(ids) or '*' in ''.join(ids)):
        return None
    return novaconf.resource_class(spec.get('resource_class'),
                                   *map(_hex_id, ids))


_DEPRECATED = {
    ('pci', 'passthrough_whitelist'): '[pci] device_spec',
    ('DEFAULT', 'pci_passthrough_whitelist'): '[pci] device_spec',
    ('DEFAULT', 'pci_alias'): '[pci] alias',
    ('devices', 'enabled_vgpu_types'): '[devices] enabled_mdev_types',
}
_KNOWN = {'pci': {'alias', 'device_spec', 'passthrough_whitelist',
                  'report_in_placement'},
          'devices': {'enabled_mdev_types', 'enabled_vgpu_types'}}
_MDEV_KNOWN = {'device_addresses', 'mdev_class', 'max_instances'}


def check(conf: novaconf.NovaConf, host: sysfs.Host | None = None,
          release: tuple[str, ...] = (releases.NEWEST,)) -> list[Finding]:
    """Each problem of the files, one line with its fix; the hardware's
    (host) only where given. release: the release(s) the cloud may run
    (releases.from_compute), for the settings an older Nova lacks."""
    found = [Finding(ERROR, e.where if e else '', message)
             for e, message in conf.errors]
    found += _check_names(conf)
    found += _check_placement(conf)
    found += _check_aliases(conf)
    found += _check_mdev(conf)
    found += _check_release(conf, release)
    if host is not None:
        found += [Finding(WARNING, '', w) for w in host.warnings]
        found += _check_hardware(conf, host)
    order = {p: i for i, p in enumerate(conf.paths)}
    return sorted(found, key=lambda f: (
        order.get(f.where.rpartition(':')[0], len(order)),
        int(f.where.rpartition(':')[2] or 0)))


def _check_names(conf):
    found = []
    for e in conf.entries:
        section = e.section
        if (section, e.key) in _DEPRECATED:
            found.append(Finding(WARNING, e.where, '[%s] %s is deprecated: '
                                 'rename it %s' % (section, e.key,
                                                   _DEPRECATED[section,
                                                               e.key])))
        elif section.startswith('vgpu_'):
            found.append(Finding(WARNING, e.where, '[%s] is deprecated: '
                                 'rename the section [mdev_%s]'
                                 % (section, section[5:])))
        elif section in _KNOWN and e.key not in _KNOWN[section]:
            found.append(Finding(ERROR, e.where, '[%s] %s is not a Nova '
                                 'option (Nova ignores it): one of %s'
                                 % (section, e.key,
                                    ', '.join(sorted(_KNOWN[section])))))
        elif (section.startswith('mdev_') and e.key not in _MDEV_KNOWN):
            found.append(Finding(ERROR, e.where, '[%s] %s is not a Nova '
                                 'option: one of %s' % (
                                     section, e.key,
                                     ', '.join(sorted(_MDEV_KNOWN)))))
    for spec, entry in zip(conf.device_specs, conf.spec_entries):
        for key in sorted(set(spec) - set(novaconf.SPEC_FIELDS)):
            found.append(Finding(ERROR, entry.where if entry else '', (
                'device_spec key %r is not one Nova reads: Nova keeps it as '
                'a tag and the spec matches more than meant; keys: %s'
                % (key, ', '.join(novaconf.SPEC_FIELDS)))))
    return found


def _check_placement(conf):
    found = []
    if conf.pci_in_placement and not conf.report_in_placement:
        # files without a device_spec may be a controller's only: then the
        # computes' files decide
        found.append(Finding(
            ERROR if conf.device_specs else WARNING,
            _where(conf, 'filter_scheduler', 'pci_in_placement'), (
                '[filter_scheduler] pci_in_placement = true without [pci] '
                'report_in_placement = true%s: a compute that does not report '
                'PCI devices gets no alias boot (NoValidHost); set '
                'report_in_placement = true on every compute host first'
                % ('' if conf.device_specs else ' in these files'))))
    scheduler = any(e.section == 'filter_scheduler' for e in conf.entries)
    if (conf.alias_list and scheduler
            and novaconf.PCI_FILTER not in conf.enabled_filters):
        where = _where(conf, 'filter_scheduler', 'enabled_filters')
        found.append(Finding(ERROR if where else WARNING, where, (
            '[filter_scheduler] enabled_filters %s %s: the scheduler does not '
            'match PCI aliases to hosts; add %s' % (
                'lacks' if where else 'is not set here, and Nova\'s default '
                'lacks', novaconf.PCI_FILTER, novaconf.PCI_FILTER))))
    for spec, entry in zip(conf.device_specs, conf.spec_entries):
        if (strutils.bool_from_string(spec.get('one_time_use'))
                and not conf.report_in_placement):
            found.append(Finding(ERROR, entry.where if entry else '', (
                'one_time_use needs [pci] report_in_placement = true (Nova '
                'refuses the spec and nova-compute does not start)')))
    return found


def _check_aliases(conf):
    found = []
    seen: dict[str, novaconf.Alias] = {}
    for alias in conf.alias_list:
        first = seen.setdefault(alias.name, alias)
        if first is alias:
            continue
        differs = (first.device_type != alias.device_type
                   or first.numa_policy != alias.numa_policy)
        same = dataclasses.replace(first, where='') == dataclasses.replace(
            alias, where='')
        if same and first.where.rpartition(':')[0] != (
                alias.where.rpartition(':')[0]):
            # the same entry in two files: likely two services' files
            found.append(Finding(WARNING, alias.where, (
                'alias %s is also at %s: right for two services\' files, '
                'but one service reading both gets it twice%s' % (
                    alias.name, first.where, ' and refuses it (with '
                    'pci_in_placement)' if conf.pci_in_placement else ''))))
        elif differs or conf.pci_in_placement:
            why = ('with another device_type or numa_policy' if differs else
                   'with pci_in_placement')
            found.append(Finding(ERROR, alias.where, (
                'alias %s is defined again (first at %s): %s Nova refuses '
                'every alias; give each its own name' % (alias.name,
                                                         first.where, why))))
        else:
            found.append(Finding(WARNING, alias.where, (
                'alias %s is defined again (first at %s): Nova takes either '
                'device, and refuses this once pci_in_placement is on; give '
                'each its own name' % (alias.name, first.where))))
    if not conf.pci_in_placement or not conf.device_specs:
        return found
    classes = {}
    for spec in conf.device_specs:
        rc = _spec_class(spec)
        classes.setdefault(rc, set()).update(
            novaconf.normalize_trait(t) for t in
            str(spec.get('traits', '')).split(',') if t.strip())
    asked = {a.placement_class() for a in seen.values()}
    for alias in seen.values():
        rc = alias.placement_class()
        if rc not in classes:
            if None in classes:
                continue           # a spec whose class only hardware tells
            here = sorted({_spec_class(spec) for spec in conf.device_specs
                           if _same_ids(spec, alias)})
            # another alias asking for the spec's class: this one is for
            # another host's devices of the same ids (whole L40S there,
            # an L40S's variant-driver VFs here)
            if here and not asked.intersection(here):
                found.append(Finding(ERROR, alias.where, (
                    'alias %s asks Placement for %s, but the device_spec of '
                    '%s:%s reports %s: give the alias and the device_spec '
                    'the same resource_class' % (
                        alias.name, rc, alias.vendor_id, alias.product_id,
                        ', '.join(here)))))
            elif here or not (alias.vendor_id and alias.product_id):
                # by its class: may be another compute host's device (an
                # L40S's variant-driver VFs beside another's whole L40S)
                found.append(Finding(WARNING, alias.where, (
                    'alias %s asks Placement for %s, which no device_spec in '
                    'these files reports: right only if another compute '
                    'host\'s device_spec does' % (alias.name, rc))))
            continue
        missing = sorted(set(alias.placement_traits()) - classes[rc])
        if missing:
            found.append(Finding(ERROR, alias.where, (
                'alias %s requires trait %s, which no device_spec of class %s '
                'gives: add it to that device_spec\'s "traits"'
                % (alias.name, missing[0], rc))))
    return found


def _check_release(conf, release):
    """Settings the release's Nova does not have (nova/pci/devspec.py and
    nova/pci/request.py _ALIAS_SCHEMA of Nova 29-34): an error if the cloud
    certainly lacks one, a warning if it may (two releases share one
    compute API maximum)."""
    found = []

    def lacks(feature, where, consequence):
        verdict = releases.verdict(feature, release)
        if verdict:
            found.append(Finding(
                ERROR if verdict == 'no' else WARNING, where, '%s; %s %s: '
                '%s' % (releases.needs(feature), 'this cloud runs'
                        if verdict == 'no' else 'this cloud may run',
                        releases.words(release), consequence)))

    for spec, entry in zip(conf.device_specs, conf.spec_entries):
        if strutils.bool_from_string(spec.get('one_time_use')):
            lacks('one_time_use', entry.where, 'its Nova keeps it as a tag '
                  'that nothing reads, so a released GPU goes back into '
                  'service without a scrub')
        if 'live_migratable' in spec:
            lacks('live_migratable', entry.where, 'its Nova keeps it as a '
                  'tag that nothing reads')
        if 'managed' in spec:
            lacks('managed', entry.where, 'its Nova keeps it as a tag that '
                  'nothing reads, and libvirt detaches the VFs from NVIDIA\'s '
                  'driver')
    for alias in conf.alias_list:
        if alias.live_migratable is not None:
            lacks('live_migratable', alias.where, 'its Nova refuses the '
                  'alias (no such property in its alias schema), and every '
                  'boot of a flavor asking for it fails')
    return found


def _check_mdev(conf):
    """[devices] enabled_mdev_types against the [mdev_<type>] sections, as
    nova/virt/libvirt/driver.py reads them."""
    found = []
    types = conf.enabled_mdev_types
    where = _where(conf, 'devices', 'enabled_mdev_types')
    owner: dict[str, str] = {}
    for t in types:
        for address in conf.mdev_types[t].device_addresses:
            if address in owner:
                found.append(Finding(ERROR, _mdev_where(conf, t), (
                    '%s is in device_addresses of both mdev_%s and mdev_%s: '
                    'nova-compute refuses to start; give each GPU one type'
                    % (address, owner[address], t))))
            owner.setdefault(address, t)
    if len(types) > 1:
        missing = [t for t in types if not conf.mdev_types[t].device_addresses]
        if missing:
            found.append(Finding(WARNING, where, (
                'several mdev types enabled but [mdev_%s] names no '
                'device_addresses: Nova gives such GPUs only the first type; '
                'list each GPU under its type' % missing[0])))
    return found


def _check_gpu_types(conf, host):
    """A GPU serves one vGPU type at a time: the VFs of one SR-IOV GPU
    given different types by device_addresses cannot all get vGPUs."""
    types: dict[str, dict[str, list[str]]] = {}
    for t in conf.enabled_mdev_types:
        for address in conf.mdev_types[t].device_addresses:
            f = host.functions.get(address.lower())
            if f and f.physfn:
                types.setdefault(f.physfn, {}).setdefault(t, []).append(
                    f.address)
    return [Finding(ERROR, _mdev_where(conf, sorted(by_type)[1]), (
        'the VFs of GPU %s are given %d vGPU types (%s): a GPU serves one '
        'type at a time; list all its VFs under one [mdev_<type>]' % (
            gpu, len(by_type), ', '.join(
                '%s: %s' % (t, ', '.join(a)) for t, a in
                sorted(by_type.items())))))
        for gpu, by_type in sorted(types.items()) if len(by_type) > 1]


def _check_variant_vfs(conf, host):
    """The VFs of NVIDIA's variant driver (a VF with nvidia/
    current_vgpu_type) a device_spec picks, as Nova 31+ passes them
    through: `managed: no`, or libvirt detaches the VF from NVIDIA's
    driver for vfio-pci and the vGPU is gone (nova/virt/libvirt/driver.py
    _set_managed_mode); a type set, or the VM gets no vGPU; and, with
    report_in_placement, one class for all the VFs of one GPU, which Nova
    counts on one provider (pci_placement_translator.py,
    PlacementPciMixedResourceClassException: nova-compute fails its
    resource update)."""
    found, classes = [], {}
    for spec, entry in zip(conf.device_specs, conf.spec_entries):
        where = entry.where if entry else ''
        hits = [f for f in host.functions.values() if spec_matches(spec, f)
                and f.physfn and f.current_vgpu_type is not None]
        # the first spec that matches a device is the one Nova uses
        hits = [f for f in hits if f.address not in classes]
        if not hits:
            continue
        for f in hits:
            classes[f.address] = (f.physfn, _spec_class(spec), where)
        addresses = ', '.join(f.address for f in hits)
        if strutils.bool_from_string(spec.get('managed'), default=True):
            found.append(Finding(ERROR, where, (
                '%s: VFs of NVIDIA\'s variant driver without "managed": '
                '"no": libvirt detaches them from the driver for vfio-pci '
                'and their vGPU is gone; add "managed": "no"' % addresses)))
        untyped = [f.address for f in hits
                   if f.current_vgpu_type == sysfs.NO_VGPU_TYPE]
        if untyped:
            found.append(Finding(WARNING, where, (
                '%s: no vGPU type is set on these VFs (current_vgpu_type '
                '0): a server given one gets no vGPU; set their type before '
                'nova-compute starts (see gpu config generate), or leave '
                'them out' % ', '.join(untyped))))
    by_gpu = {}
    for address, (gpu, rc, where) in classes.items():
        by_gpu.setdefault(gpu, {}).setdefault(rc, (where, []))[1].append(
            address)
    for gpu, by_class in sorted(by_gpu.items()):
        if conf.report_in_placement and len(by_class) > 1:
            last = max((w for w, _ in by_class.values()), key=lambda w: (
                w.rpartition(':')[0], int(w.rpartition(':')[2] or 0)))
            found.append(Finding(ERROR, last, (
                'the VFs of GPU %s get %d resource classes (%s): Nova counts '
                'a GPU\'s VFs on one provider of one class and refuses this '
                '(PlacementPciMixedResourceClassException); give one GPU\'s '
                'VFs one vGPU type and class' % (gpu, len(by_class), '; '.join(
                    '%s: %s' % (rc or 'by ids', ', '.join(a))
                    for rc, (_, a) in sorted(by_class.items(),
                                             key=lambda i: str(i[0])))))))
    return found


def _check_vfs_past_max(conf, host):
    """An SR-IOV GPU holds at most its type's max_instance vGPUs (NVIDIA's
    description), whatever its VFs: device_addresses listing more of one
    GPU's VFs, uncapped by max_instances, gives Nova providers for vGPUs
    the GPU cannot make, whose boots fail."""
    found = []
    for t in conf.enabled_mdev_types:
        group = conf.mdev_types[t]
        per_gpu: dict[str, list[str]] = {}
        cap = None
        # Nova walks the parents in order and stops at max_instances
        listed = sorted(a.lower() for a in group.device_addresses)
        for address in listed[:group.max_instances or len(listed)]:
            f = host.functions.get(address)
            info = next((m for m in (f.mdev_types if f else ())
                         if m.id == t), None)
            if f and f.physfn and info and info.max_instance:
                cap = info.max_instance
                per_gpu.setdefault(f.physfn, []).append(f.address)
        over = {g: vfs for g, vfs in per_gpu.items() if len(vfs) > cap}
        if over:
            found.append(Finding(WARNING, _mdev_where(conf, t), (
                '[mdev_%s] gives Nova %s, but a GPU holds at most %d vGPUs '
                'of %s (max_instance): the VFs past that get providers '
                'whose boots fail; list %d per GPU' % (
                    t, '; '.join('%d VFs of %s' % (len(v), g)
                                 for g, v in sorted(over.items())),
                    cap, t, cap))))
    return found


def _mdev_where(conf, mdev_type):
    return (_where(conf, 'mdev_%s' % mdev_type, 'device_addresses')
            or _where(conf, 'vgpu_%s' % mdev_type, 'device_addresses'))


def _same_ids(spec, alias) -> bool:
    return bool(alias.vendor_id and alias.product_id) and (
        _hex_id(spec.get('vendor_id', '')),
        _hex_id(spec.get('product_id', ''))) == (
        _hex_id(alias.vendor_id), _hex_id(alias.product_id))


def _where(conf, section, option):
    entry = next((e for e in reversed(conf.entries)
                  if (e.section, e.key) == (section, option)), None)
    return entry.where if entry else ''


def _check_hardware(conf, host):
    found = []
    matched = {}
    for spec, entry in zip(conf.device_specs, conf.spec_entries):
        where = entry.where if entry else ''
        hits = [f for f in host.functions.values() if spec_matches(spec, f)]
        if not hits:
            found.append(Finding(WARNING, where, (
                'device_spec %s matches no device in %s' % (
                    json.dumps(spec), host.root))))
        for f in hits:
            matched.setdefault(f.address, (f, where, novaconf.resource_class(
                spec.get('resource_class'), f.vendor_id, f.product_id)))
        vfs = [f.address for f in hits if f.device_type == 'type-VF']
        if vfs and strutils.bool_from_string(spec.get('one_time_use')):
            found.append(Finding(ERROR, where, (
                'one_time_use on VFs (%s): Nova refuses it (PF or PCI '
                'devices only); drop it from this device_spec'
                % ', '.join(vfs))))
    found += _check_variant_vfs(conf, host)
    vfs = {}
    for f, where, _ in matched.values():
        if f.physfn and f.physfn in matched:
            vfs.setdefault(f.physfn, []).append(f)
    for pf, members in vfs.items():
        found.append(Finding(ERROR, matched[pf][1], (
            'PF %s and its VFs %s are both matched: nova-compute refuses '
            'that; match the VFs only ("product_id": "%s") or the PF only'
            % (pf, ', '.join(f.address for f in members),
               members[0].product_id))))
    for t in conf.enabled_mdev_types:
        offering = [f.address for f in host.functions.values()
                    if any(m.id == t for m in f.mdev_types)]
        where = _mdev_where(conf, t) or _where(conf, 'devices',
                                                'enabled_mdev_types')
        if not offering:
            found.append(Finding(ERROR, where, (
                'no GPU in %s offers mdev type %s (offered: %s)' % (
                    host.root, t, ', '.join(sorted({
                        m.id for f in host.functions.values()
                        for m in f.mdev_types})) or 'none'))))
            continue
        for address in conf.mdev_types[t].device_addresses:
            if (address.lower() not in host.functions
                    and not address.endswith(':00.0')):   # a VF's address
                found.append(Finding(ERROR, where, (
                    '[mdev_%s] device_addresses: %s is not on this host: '
                    'an SR-IOV GPU\'s VFs exist only once enabled (%s -e '
                    '<GPU address>, at every boot)' % (
                        t, address, SRIOV_MANAGE))))
            elif address.lower() not in offering:
                found.append(Finding(ERROR, where, (
                    '[mdev_%s] device_addresses: %s does not offer %s on '
                    'this host (%s do)' % (t, address, t,
                                           ', '.join(offering)))))
    found += _check_gpu_types(conf, host)
    found += _check_vfs_past_max(conf, host)
    # by ids and class: an alias of another class is for other devices
    # (whole L40S on one host, an L40S's variant-driver VFs on another)
    by_id = {}
    for f, _, rc in matched.values():
        by_id.setdefault((f.vendor_id, f.product_id, rc), set()).add(
            f.device_type)
    for alias in conf.aliases.values():
        if not (alias.vendor_id and alias.product_id and alias.device_type):
            continue
        ids = _hex_id(alias.vendor_id), _hex_id(alias.product_id)
        types = by_id.get(ids + (novaconf.resource_class(
            alias.resource_class, *ids),))
        if types and alias.device_type not in types:
            found.append(Finding(ERROR, alias.where, (
                'alias %s says device_type %s, but %s:%s on this host is %s: '
                'set "device_type": "%s"' % (
                    alias.name, alias.device_type, alias.vendor_id,
                    alias.product_id, '/'.join(sorted(types)),
                    sorted(types)[0]))))
    return found
