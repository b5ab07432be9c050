"""What Placement says about the device providers of a tree or a cloud:
the records the model is built from (devices.build)."""
from __future__ import annotations

import dataclasses

# The traits that tell who owns a provider: Nova's PCI in Placement (and
# its one-time-use devices), and Cyborg.
PCI_DEVICE_TRAIT = 'COMPUTE_MANAGED_PCI_DEVICE'
ONE_TIME_USE_TRAIT = 'HW_PCI_ONE_TIME_USE'
CYBORG_TRAIT = 'OWNER_CYBORG'


@dataclasses.dataclass
class Snapshot:
    """Inventories, allocations and traits are keyed by provider UUID and
    hold Placement's response bodies (with the provider generation), but
    for the traits of a Cyborg GPU or a libvirt vGPU provider read without
    with_traits: only those that name it (ids, labels), from listings.
    """
    providers: list[dict]
    pci_managed: set[str]
    one_time_use: set[str]
    cyborg: set[str] = dataclasses.field(default_factory=set)
    inventories: dict[str, dict] = dataclasses.field(default_factory=dict)
    allocations: dict[str, dict] = dataclasses.field(default_factory=dict)
    traits: dict[str, dict] = dataclasses.field(default_factory=dict)
