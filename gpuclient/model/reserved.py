"""Returning reserved GPUs to service: which devices to reset and what
became of each. Pure functions, no I/O.

Nova reserves a one-time-use GPU (reserved = total) when a server claims
it and leaves it so after the server is gone, until an operator has
scrubbed it. Resetting a device still in use is the one thing that must
never happen: Nova would not reserve it again when that server leaves, and
the next tenant would get it unscrubbed.
"""
from __future__ import annotations

import dataclasses

from gpuclient.model.devices import Device

RESET = 'reset'
WOULD_RESET = 'would reset'   # --dry-run
IN_USE = 'skipped: in use'
NOT_RESERVED = 'skipped: not reserved'
NOT_ONE_TIME_USE = 'skipped: not one-time-use'
NO_INVENTORY = 'skipped: no inventory'   # the class left the provider
FAILED = 'failed: '


@dataclasses.dataclass
class Outcome:
    host: str
    address: str | None
    resource_class: str
    reserved_before: int | None
    reserved_after: int | None
    result: str

    @property
    def failed(self) -> bool:
        return self.result.startswith(FAILED)


def candidates(devices: list[Device], any_device: bool = False
               ) -> list[Device]:
    """The devices a --host or --all reset considers: the one-time-use
    ones, or every one with --any. Devices named one by one are always
    considered, and told why they are skipped."""
    return [d for d in devices if d.one_time_use or any_device]


def skip_reason(record: dict | None, used: int, one_time_use: bool,
                any_device: bool = False) -> str | None:
    """Why a device must not be reset, or None to reset it."""
    if record is None:
        return NO_INVENTORY
    if not one_time_use and not any_device:
        return NOT_ONE_TIME_USE
    if used:
        return IN_USE
    if not record['reserved']:
        return NOT_RESERVED
    return None


def usage(state: dict, resource_class: str) -> tuple[dict | None, int]:
    """(inventory record, units used) of a class, from a provider's
    inventories and allocations read at one generation."""
    used = sum(a['resources'].get(resource_class, 0)
               for a in state['allocations'].values())
    return state['inventories'].get(resource_class), used


def reset_record(state: dict, resource_class: str, one_time_use: bool,
                 any_device: bool = False) -> dict | None:
    """The inventory record to write back: the full record as read (a
    partial one would reset the other fields to defaults) with reserved 0;
    None when the device is to be left alone."""
    record, used = usage(state, resource_class)
    if skip_reason(record, used, one_time_use, any_device):
        return None
    return dict(record, reserved=0)


def outcome(device: Device, state: dict, written: dict | None,
            any_device: bool = False) -> Outcome:
    """What became of a device, from the state read last and the record
    written (None: nothing written; a dry run, or a skip)."""
    record, used = usage(state, device.resource_class)
    before = record['reserved'] if record else None
    if written is not None:
        return _outcome(device, before, written['reserved'], RESET)
    why = skip_reason(record, used, device.one_time_use, any_device)
    if why:
        return _outcome(device, before, before, why)
    return _outcome(device, before, 0, WOULD_RESET)


def failed(device: Device, error: Exception) -> Outcome:
    """A device whose reset the cloud refused: as last listed."""
    return _outcome(device, device.reserved, device.reserved,
                    FAILED + str(error))


def failure_summary(outcomes: list[Outcome]) -> str | None:
    """One line for the exit status when any device failed."""
    failures = [o for o in outcomes if o.failed]
    if not failures:
        return None
    return ('%d of %d devices could not be reset: see the Result column'
            % (len(failures), len(outcomes)))


def _outcome(device: Device, before: int | None, after: int | None,
             result: str) -> Outcome:
    return Outcome(device.host, device.address, device.resource_class,
                   before, after, result)
