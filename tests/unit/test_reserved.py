"""Which devices `gpu reserved reset` touches, and what it reports."""
import testtools

from gpuclient.access import http
from gpuclient.model import reserved
from tests import factories

RC = 'CUSTOM_PCI_10DE_2330'
RECORD = {'total': 1, 'reserved': 1, 'min_unit': 1, 'max_unit': 1,
          'step_size': 1, 'allocation_ratio': 1.0}


def device(one_time_use=True, reserved_=1, address='0000:c1:00.0'):
    return factories.device(
        'gpu-h100-1', address, RC, total=1, used=0, reserved=reserved_,
        uuid='uuid-' + address, pci_id='10de:2330', model='H100', free=0,
        state='reserved', provider_name='n', generation=4,
        inventory=dict(RECORD, reserved=reserved_),
        one_time_use=one_time_use)


def state(record=RECORD, consumers=(), other=None):
    """A provider's inventories and allocations, as read at generation 7."""
    inventories = {RC: record} if record else {}
    inventories.update(other or {})
    return {'resource_provider_generation': 7, 'inventories': inventories,
            'allocations': {c: {'resources': {RC: 1}} for c in consumers}}


class TestSkipReason(testtools.TestCase):

    def test_released_one_time_use_device_is_reset(self):
        self.assertIsNone(reserved.skip_reason(RECORD, 0, True))

    def test_in_use_is_never_reset_even_with_any(self):
        # Reserved 0 while held: the danger state a hand reset leaves.
        for record in (RECORD, dict(RECORD, reserved=0)):
            self.assertEqual(reserved.IN_USE,
                             reserved.skip_reason(record, 1, True))
            self.assertEqual(reserved.IN_USE,
                             reserved.skip_reason(record, 1, False, True))

    def test_not_reserved(self):
        self.assertEqual(reserved.NOT_RESERVED, reserved.skip_reason(
            dict(RECORD, reserved=0), 0, True))

    def test_not_one_time_use_unless_any(self):
        self.assertEqual(reserved.NOT_ONE_TIME_USE,
                         reserved.skip_reason(RECORD, 0, False))
        self.assertIsNone(reserved.skip_reason(RECORD, 0, False, True))

    def test_class_gone_from_the_provider(self):
        self.assertEqual(reserved.NO_INVENTORY,
                         reserved.skip_reason(None, 0, True))


class TestResetRecord(testtools.TestCase):

    def test_full_record_with_only_reserved_changed(self):
        record = dict(RECORD, allocation_ratio=2.0, max_unit=1)
        self.assertEqual(dict(record, reserved=0),
                         reserved.reset_record(state(record), RC, True))

    def test_vgpu_partly_reserved_by_hand_with_any(self):
        record = dict(RECORD, total=16, max_unit=16, reserved=4)
        self.assertEqual(0, reserved.reset_record(
            state(record), RC, False, True)['reserved'])

    def test_nothing_to_write_when_held_or_free(self):
        self.assertIsNone(reserved.reset_record(
            state(consumers=['server']), RC, True))
        self.assertIsNone(reserved.reset_record(
            state(dict(RECORD, reserved=0)), RC, True))
        self.assertIsNone(reserved.reset_record(state(None), RC, True))

    def test_other_classes_do_not_count_as_use(self):
        s = state(other={'CUSTOM_OTHER': dict(RECORD, reserved=0)})
        s['allocations'] = {'x': {'resources': {'CUSTOM_OTHER': 1}}}
        self.assertEqual((RECORD, 0), reserved.usage(s, RC))


class TestOutcome(testtools.TestCase):

    def test_reset(self):
        o = reserved.outcome(device(), state(), dict(RECORD, reserved=0))
        self.assertEqual(('gpu-h100-1', '0000:c1:00.0', RC, 1, 0, 'reset'),
                         (o.host, o.address, o.resource_class,
                          o.reserved_before, o.reserved_after, o.result))
        self.assertFalse(o.failed)

    def test_dry_run_says_would_reset(self):
        o = reserved.outcome(device(), state(), None)
        self.assertEqual((1, 0, reserved.WOULD_RESET),
                         (o.reserved_before, o.reserved_after, o.result))

    def test_skip_judged_on_the_last_read_not_the_listing(self):
        # Listed free, then claimed: Nova reserved it and a server holds it.
        o = reserved.outcome(device(reserved_=0),
                             state(consumers=['server']), None)
        self.assertEqual((1, 1, reserved.IN_USE),
                         (o.reserved_before, o.reserved_after, o.result))

    def test_failure_keeps_the_error_line(self):
        o = reserved.failed(device(), http.Conflict(
            'Placement: inventory in use (HTTP 409)', 409,
            'placement.inventory.inuse'))
        self.assertEqual('failed: Placement: inventory in use (HTTP 409)',
                         o.result)
        self.assertEqual((1, 1), (o.reserved_before, o.reserved_after))
        self.assertTrue(o.failed)


class TestSelection(testtools.TestCase):

    def test_bulk_considers_one_time_use_devices_unless_any(self):
        otu, plain = device(), device(False, address='0000:41:00.0')
        self.assertEqual([otu], reserved.candidates([otu, plain]))
        self.assertEqual([otu, plain],
                         reserved.candidates([otu, plain], True))

    def test_failure_summary_counts_failures_only(self):
        ok = reserved.outcome(device(), state(dict(RECORD, reserved=0)),
                              None)
        bad = reserved.failed(device(), http.CloudError('boom'))
        self.assertIsNone(reserved.failure_summary([ok, ok]))
        self.assertIsNone(reserved.failure_summary([]))
        self.assertEqual(
            '1 of 3 devices could not be reset: see the Result column',
            reserved.failure_summary([ok, bad, ok]))
