"""Custom traits on GPU providers: names, changes and what Nova does to
them. Pure functions, no I/O.

Nova leaves an operator's traits on vGPU GPU providers alone, but it owns
the traits of PCI-in-Placement device providers: it sets them from the
device's ``[pci] device_spec`` entry and replaces whatever else is there
each time it refreshes its provider cache (every ``[compute]
resource_provider_association_refresh`` seconds, 300 by default, and when
nova-compute restarts). A lasting label on such a device belongs in
``device_spec``.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable

from gpuclient.model import devices

PREFIX = 'CUSTOM_'
MAX_LENGTH = 255   # Placement's limit on a trait name
_CUSTOM = re.compile(r'^CUSTOM_[A-Z0-9_]+$')

# Traits Nova itself puts on a PCI device provider, whatever device_spec
# says ('traits' there adds to these).
NOVA_PCI_TRAITS = frozenset({
    'COMPUTE_MANAGED_PCI_DEVICE', 'OWNER_NOVA', 'HW_PCI_LIVE_MIGRATABLE',
    'HW_PCI_ONE_TIME_USE'})

TAGGED = 'tagged'
UNTAGGED = 'untagged'
UNCHANGED = 'unchanged'
TAGGED_TRANSIENT = "tagged until Nova's next provider refresh"
UNTAGGED_TRANSIENT = ("untagged; back at Nova's next provider refresh if "
                      'device_spec lists it')
# Addresses named in a refusal before "and N more".
NAMED_IN_ERROR = 4


class BadTraitName(ValueError):
    pass


def suggestion(name: str) -> str | None:
    """The valid custom trait an operator most likely meant: non-alphanumeric
    runs become '_', letters upper case, CUSTOM_ in front (once)."""
    squashed = re.sub(r'[^0-9A-Za-z]+', '_', name).upper()
    if squashed.startswith(PREFIX):
        squashed = squashed[len(PREFIX):]
    squashed = squashed.strip('_')
    if not squashed or len(PREFIX + squashed) > MAX_LENGTH:
        return None
    return PREFIX + squashed


def validate(name: str) -> str:
    """`name` if Placement would take it as a custom trait; BadTraitName
    with a one-line reason (and the likely name) if not."""
    if len(name) > MAX_LENGTH:
        raise BadTraitName('trait name is %d characters long; Placement '
                           'allows at most %d' % (len(name), MAX_LENGTH))
    if _CUSTOM.match(name):
        return name
    message = ('invalid trait name %r: a custom trait is CUSTOM_ followed by '
               'upper-case letters, digits and _' % name)
    better = suggestion(name)
    if better:
        message += '; did you mean %s?' % better
    raise BadTraitName(message)


def changed(current: Iterable[str], trait: str,
            tag: bool) -> list[str] | None:
    """The provider's whole new trait list with `trait` added (tag) or
    removed, every other trait kept; None if it is already so."""
    have = set(current)
    if (trait in have) == tag:
        return None
    return sorted(have | {trait} if tag else have - {trait})


def refused(current: Iterable[str], trait: str, tag: bool,
            nova_managed: bool, transient: bool) -> bool:
    """Whether a change must be refused: it would change traits Nova
    manages (a PCI-in-Placement device) and the operator did not accept
    that it lasts only until Nova's next provider refresh."""
    return (nova_managed and not transient
            and changed(current, trait, tag) is not None)


def result(tag: bool, written: bool, nova_managed: bool) -> str:
    if not written:
        return UNCHANGED
    if nova_managed:
        return TAGGED_TRANSIENT if tag else UNTAGGED_TRANSIENT
    return TAGGED if tag else UNTAGGED


def device_spec_traits(current: Iterable[str], trait: str,
                       tag: bool) -> list[str]:
    """The `traits` a device's device_spec entry needs for the label to
    last: the device's traits but Nova's own, with `trait` added or
    removed."""
    keep = set(current) - NOVA_PCI_TRAITS
    return sorted(keep | {trait} if tag else keep - {trait})


def device_spec_setting(pci_id: str | None, resource_class: str,
                        one_time_use: bool, current: Iterable[str],
                        trait: str, tag: bool) -> str:
    """What to write in nova.conf for one PCI-in-Placement device.

    With a vendor:product (the default CUSTOM_PCI_<VENDOR>_<PRODUCT>
    class) that is a whole device_spec entry. A device with a custom
    resource class does not show its vendor and product in Placement: name
    the entry by that class instead.
    """
    current = set(current)
    traits = ','.join(device_spec_traits(current, trait, tag))
    if not pci_id:
        return ('"traits": "%s" in the [pci] device_spec entry with '
                '"resource_class": "%s"' % (traits, resource_class))
    vendor, _, product = pci_id.partition(':')
    entry = {'vendor_id': vendor, 'product_id': product}
    if one_time_use:
        entry['one_time_use'] = 'true'
    if 'HW_PCI_LIVE_MIGRATABLE' in current:
        entry['live_migratable'] = 'true'
    entry['traits'] = traits
    return '[pci] device_spec = %s' % json.dumps(entry)


def refusal(devices: list, trait: str, tag: bool) -> str:
    """The one-line refusal for PCI-in-Placement devices (devices.Device
    with traits): which ones, why, the lasting nova.conf setting on each
    host, and the override."""
    names = ['%s:%s' % (d.host, d.address or d.provider_name)
             for d in devices]
    if len(names) > NAMED_IN_ERROR:
        names[NAMED_IN_ERROR:] = ['and %d more'
                                  % (len(names) - NAMED_IN_ERROR)]
    settings = []
    for d in devices:
        setting = 'on %s %s' % (d.host, device_spec_setting(
            d.pci_id, d.resource_class, d.one_time_use, d.traits or (),
            trait, tag))
        if setting not in settings:
            settings.append(setting)
    if tag:
        what = ('%s set by hand is dropped at its next provider refresh'
                % trait)
        lasting, override = 'to label them for good', 'tags them until then'
    else:
        what = ('a trait device_spec lists comes back at its next provider '
                'refresh')
        lasting, override = 'to remove it for good', 'removes it now'
    return ('Nova manages the traits of PCI-in-Placement devices (%s): %s '
            '([compute] resource_provider_association_refresh, 300 s by '
            'default, or a nova-compute restart); %s, set %s, then restart '
            'nova-compute there; --transient %s' % (
                ', '.join(names), what, lasting, '; '.join(settings),
                override))


# -- devices no command writes to (trait tag/untag, reserved reset) --------
def unwritable(device: devices.Device,
               selector: str | None = None) -> str | None:
    """Why the plugin must not write to a device (devices.Device), in one
    line, or None. `selector` is how the operator named it, if by name.

    Cyborg owns the Placement records of the GPUs it manages and rewrites
    them from its own database: a change made here would be undone, or
    would make Placement disagree with Cyborg. A VF is no provider of its
    own: Nova counts a PF's VFs on one pool provider and records which VF
    a server got nowhere in Placement, so one VF cannot be changed alone.
    """
    name = '%s:%s' % (device.host, device.address or device.provider_name)
    if device.owner == devices.CYBORG:
        return cyborg_refusal('%s is' % name, 'its')
    if device.kind == devices.BAREMETAL:
        # Nova's ironic driver replaces the node provider's traits with
        # the node's, and sets its reserved from the node's state
        return ('%s is a bare-metal node: its traits and state are '
                'Ironic\'s, which Nova copies into Placement (openstack '
                'baremetal node add trait / maintenance unset %s); nothing '
                'written' % (device.host, device.host))
    named = _named_address(selector)
    if device.vf_pool and named and named != device.address:
        return ('%s is a VF in the pool of %d VFs of the PF at %s; Placement '
                'keeps one record for the whole pool and none per VF, so '
                'one VF cannot be changed; nothing written'
                % (selector, device.vf_pool, name))
    return None


def cyborg_refusal(subject: str, whose: str) -> str:
    return ('%s managed by Cyborg (trait OWNER_CYBORG), which owns %s '
            "Placement records: change them through Cyborg's own API "
            '(openstack accelerator ...); nothing written' % (subject, whose))


def _named_address(selector: str | None) -> str | None:
    host_address = selector and devices.split_host_address(selector)
    return host_address[1] if host_address else None
