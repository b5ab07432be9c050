"""The pure model: devices and their classification, selectors, flavors,
allocations, capacity, traits, reserved, the estate, audit checks and
metrics. No I/O, but for reading the system's pci.ids (pciids)."""
