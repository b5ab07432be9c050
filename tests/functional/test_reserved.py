"""openstack gpu reserved reset against the sandbox: one-time-use H100s on
gpu-h100-1 (0000:c1:00.0 and 0000:c2:00.0)."""
import json

from gpuclient.access import cloud as cloud_mod
from gpuclient.access import placement as placement_mod
from tests.functional import base

HOST = 'gpu-h100-1'
RC = 'CUSTOM_PCI_10DE_2330'
ADDRESSES = ('0000:c1:00.0', '0000:c2:00.0')
OTHER_RC = 'CUSTOM_GPUCLIENT_TEST_WRITER'
OTHER_TRAIT = 'CUSTOM_GPUCLIENT_TEST_WRITER'


def provider_name(address):
    return '%s_%s' % (HOST, address.upper())


def by_address(rows):
    return {r['Address']: (r['Reserved Before'], r['Reserved After'],
                           r['Result']) for r in rows}


class InterleavedWriter(placement_mod.Placement):
    """A real Placement client, with another writer in the reset's way:
    the reset's `hook_on` read ('allocations' or 'inventories') of the
    `target` provider is followed, before the reset sees its answer, by
    one real write (writer(uuid)); `times` times at most."""

    def __init__(self, service, target, hook_on, writer, times=1):
        super().__init__(service)
        self.target, self.hook_on = target, hook_on
        self.writer, self.times = writer, times
        self.resetting = False
        self.reads = {'allocations': 0, 'inventories': 0}
        self.write_attempts = 0

    def inventories_and_allocations(self, uuid):
        self.resetting = True   # past the listing: the reset's own reads
        return super().inventories_and_allocations(uuid)

    def _read(self, kind, uuid):
        body = getattr(super(), kind)(uuid)
        if self.resetting and uuid == self.target:
            self.reads[kind] += 1
            if kind == self.hook_on and self.times:
                self.times -= 1
                self.writer(uuid)
        return body

    def allocations(self, uuid):
        return self._read('allocations', uuid)

    def inventories(self, uuid):
        return self._read('inventories', uuid)

    def put_inventory(self, uuid, *args, **kwargs):
        if uuid == self.target:
            self.write_attempts += 1
        return super().put_inventory(uuid, *args, **kwargs)


class ReservedTestCase(base.SandboxTestCase):

    def setUp(self):
        super().setUp()
        # Whatever happens, both devices go back into service.
        for address in ADDRESSES:
            self.addCleanup(self.set_reserved, provider_name(address), RC, 0)
        self.flavor = self.create_flavor({'pci_passthrough:alias': 'h100:1'})

    def held_device(self, server):
        [name] = [n for n in self.allocations(server['id'])
                  if n.startswith(HOST + '_')]
        return name.split('_', 1)[1].lower()

    def release(self):
        """The address of a released h100 device: reserved, unused."""
        return self.released_h100().split('_', 1)[1].lower()

    def state(self, address):
        [row] = [r for r in self.gpu('device', 'list', '--long', '--host',
                                     HOST) if r['Address'] == address]
        return row['State'], row['Reserved']

    def rows(self, *args):
        return by_address(self.gpu('reserved', 'reset', *args))

    def provider_body(self, address, what='inventories'):
        uuid = self.provider(provider_name(address))['uuid']
        return self.placement('GET', '/resource_providers/%s/%s'
                              % (uuid, what))

    def writer_cloud(self, address, hook_on, writer, times=1):
        """A gpuclient Cloud on the sandbox whose Placement interleaves
        `writer` with the reset of `address` (see InterleavedWriter)."""
        cloud = cloud_mod.Cloud(self.sandbox().session(), 'RegionOne')
        cloud.placement = InterleavedWriter(
            cloud.placement.service, self.provider(provider_name(address))[
                'uuid'], hook_on, writer, times)
        return cloud

    def reset_with(self, cloud, *args):
        """(exit code, rows by address, stderr) of a reset using `cloud`."""
        code, out, err = self.run_openstack(
            'gpu', 'reserved', 'reset', *args, '-f', 'json', gpu_client=cloud)
        return code, by_address(json.loads(out or '[]')), err


class TestReset(ReservedTestCase):

    def test_released_device_is_reset_and_a_new_server_gets_it(self):
        address = self.release()
        self.assertEqual(('reserved', 1), self.state(address))
        [other] = set(ADDRESSES) - {address}

        rows = self.rows('--host', HOST)
        self.assertEqual({address: (1, 0, 'reset'),
                          other: (0, 0, 'skipped: not reserved')}, rows)
        self.assertEqual(('free', 0), self.state(address))
        self.sandbox().periodic()   # Nova's periodic update keeps it so
        self.assertEqual(('free', 0), self.state(address))

        # With the other device out of service, a new h100 server can only
        # land on the one just reset.
        self.set_reserved(provider_name(other), RC, 1)
        server = self.boot(self.flavor)
        self.assertEqual(address, self.held_device(server))

    def test_device_still_held_is_skipped_and_stays_reserved(self):
        server = self.boot(self.flavor)
        address = self.held_device(server)
        self.wait_reserved(provider_name(address), RC)
        before = self.provider_body(address)

        for args in (('--host', HOST), ('%s:%s' % (HOST, address), '--any')):
            rows = self.rows(*args)
            self.assertEqual((1, 1, 'skipped: in use'), rows[address])
        self.assertEqual(before, self.provider_body(address))
        self.assertEqual(('in-use', 1), self.state(address))

    def test_dry_run_changes_nothing(self):
        address = self.release()
        before = self.provider_body(address)
        self.assertEqual((1, 0, 'would reset'),
                         self.rows('--host', HOST, '--dry-run')[address])
        # Same record, same generation: nothing was written.
        self.assertEqual(before, self.provider_body(address))
        self.assertEqual(('reserved', 1), self.state(address))

    def test_named_device_of_another_kind_needs_any(self):
        # An A30 an operator took out of service by hand.
        name = 'gpu-a30-1_0000:81:00.0'
        self.addCleanup(self.set_reserved, name, 'CUSTOM_PCI_10DE_20B7', 0)
        self.set_reserved(name, 'CUSTOM_PCI_10DE_20B7', 1)
        self.assertEqual({'0000:81:00.0': (1, 1, 'skipped: not one-time-use')},
                         self.rows(name))
        self.assertEqual({}, self.rows('--host', 'gpu-a30-1'))
        self.assertEqual({'0000:81:00.0': (1, 0, 'reset')},
                         self.rows('gpu-a30-1:81:00.0', '--any'))


class TestRefusals(ReservedTestCase):

    def test_no_selector_refuses(self):
        for args in ((), ('--dry-run',), ('--any',)):
            self.assertEqual(
                'name the devices to reset, or give --host <host> or --all',
                self.gpu_fails('reserved', 'reset', *args))

    def test_several_selectors_refuse(self):
        self.assertIn('not several', self.gpu_fails(
            'reserved', 'reset', '--all', '--host', HOST))

    def test_unknown_device_refuses_before_any_write(self):
        address = self.release()
        line = self.gpu_fails('reserved', 'reset', '%s:%s' % (HOST, address),
                              '%s:99:00.0' % HOST)
        self.assertIn("no GPU device 'gpu-h100-1:99:00.0'", line)
        self.assertEqual(('reserved', 1), self.state(address))


class TestConcurrentWriters(ReservedTestCase):
    """Another writer bumps the provider generation during the reset."""

    def other_writer(self, address):
        """A real write of the whole inventory: another field of the
        device's class, and another class."""
        self.placement('PUT', '/resource_classes/%s' % OTHER_RC)
        self.addCleanup(self.placement, 'DELETE',
                        '/resource_classes/%s' % OTHER_RC)
        original = self.provider_body(address)['inventories']
        self.addCleanup(self.restore_inventories, address, original)
        record = {'total': 4, 'reserved': 1, 'min_unit': 1, 'max_unit': 2,
                  'step_size': 1, 'allocation_ratio': 1.0}

        def write(uuid):
            body = self.provider_body(address)
            body['inventories'][RC]['allocation_ratio'] = 2.0
            body['inventories'][OTHER_RC] = record
            self.placement('PUT', '/resource_providers/%s/inventories' % uuid,
                           json=body)
        return write, original, record

    def restore_inventories(self, address, inventories):
        body = self.provider_body(address)
        body['inventories'] = dict(inventories, **{
            RC: dict(inventories[RC], reserved=0)})
        uuid = self.provider(provider_name(address))['uuid']
        self.placement('PUT', '/resource_providers/%s/inventories' % uuid,
                       json=body)

    def check_reset_lands_and_other_write_survives(self, hook_on):
        address = self.release()
        write, original, record = self.other_writer(address)
        cloud = self.writer_cloud(address, hook_on, write)

        code, rows, err = self.reset_with(cloud, '%s:%s' % (HOST, address))
        self.assertEqual((0, ''), (code, err))
        self.assertEqual({address: (1, 0, 'reset')}, rows)
        # The other writer's field and class survive; reserved is the only
        # thing the reset changed.
        self.assertEqual(
            {RC: dict(original[RC], reserved=0, allocation_ratio=2.0),
             OTHER_RC: record},
            self.provider_body(address)['inventories'])
        return cloud.placement

    def test_write_between_read_and_write_is_retried(self):
        placement = self.check_reset_lands_and_other_write_survives(
            'inventories')
        self.assertEqual(2, placement.write_attempts)  # the first got 409

    def test_write_between_the_two_reads_is_re_read(self):
        placement = self.check_reset_lands_and_other_write_survives(
            'allocations')
        self.assertEqual((2, 1), (placement.reads['allocations'],
                                  placement.write_attempts))

    def test_claim_between_read_and_write_is_not_reset(self):
        """Someone else resets the device and a server claims it after the
        reset read it: the claim bumps the generation, the reset's write is
        refused, and the re-read finds the device in use."""
        address = self.release()
        [other] = set(ADDRESSES) - {address}
        self.set_reserved(provider_name(other), RC, 1)
        generations = []

        def reset_and_claim(uuid):
            self.set_reserved(provider_name(address), RC, 0)
            generations.append(self.provider_body(address)[
                'resource_provider_generation'])
            server = self.boot(self.flavor)
            self.assertEqual(address, self.held_device(server))
            generations.append(self.provider_body(address, 'allocations')[
                'resource_provider_generation'])
            # Nova's own write; a stale one would undo it
            self.wait_reserved(provider_name(address), RC)

        cloud = self.writer_cloud(address, 'inventories', reset_and_claim)
        code, rows, err = self.reset_with(cloud, '%s:%s' % (HOST, address))
        self.assertEqual((0, ''), (code, err))
        self.assertEqual({address: (1, 1, 'skipped: in use')}, rows)
        self.assertLess(generations[0], generations[1])  # the claim bumped it
        # One write, refused on the generation read before the claim.
        self.assertEqual(1, cloud.placement.write_attempts)
        self.assertEqual(('in-use', 1), self.state(address))

    def put_traits(self, path, traits):
        body = self.placement('GET', path)
        self.placement('PUT', path, json=dict(body, traits=traits))

    def test_provider_that_keeps_changing_fails_with_exit_1(self):
        address = self.release()
        [other] = set(ADDRESSES) - {address}

        path = '/resource_providers/%s/traits' % self.provider(
            provider_name(address))['uuid']
        original = self.placement('GET', path)['traits']
        self.addCleanup(self.put_traits, path, original)
        self.placement('PUT', '/traits/%s' % OTHER_TRAIT)

        def touch_traits(uuid):
            # Add or drop a trait: a real change, which bumps the generation
            # (putting the same set back does not).
            body = self.placement('GET', path)
            body['traits'] = list(set(body['traits']) ^ {OTHER_TRAIT})
            self.placement('PUT', path, json=body)

        cloud = self.writer_cloud(address, 'inventories', touch_traits,
                                  times=placement_mod.WRITE_ATTEMPTS)
        code, rows, err = self.reset_with(cloud, '--host', HOST)

        self.assertEqual(1, code)
        self.assertEqual('1 of 2 devices could not be reset: see the Result '
                         'column', err.strip())
        before, after, result = rows[address]
        self.assertEqual((1, 1), (before, after))
        self.assertIn('failed: Placement: the provider kept changing', result)
        self.assertEqual((0, 0, 'skipped: not reserved'), rows[other])
        self.assertEqual(placement_mod.WRITE_ATTEMPTS,
                         cloud.placement.write_attempts)
        self.assertEqual(('reserved', 1), self.state(address))


class TestNeverWritten(ReservedTestCase):
    """Devices of the default fleet (issue 11) that no reset may touch."""
    CYBORG = 'cyborg-1_0000:af:00.0'

    def test_cyborg_gpu_is_refused_nothing_written(self):
        self.needs_provider(self.CYBORG)
        # Reserved by hand, so a reset would have something to write.
        self.set_reserved(self.CYBORG, 'PGPU', 1)
        self.addCleanup(self.set_reserved, self.CYBORG, 'PGPU', 0)
        self.assertEqual(
            "cyborg-1:0000:af:00.0 is managed by Cyborg (trait OWNER_CYBORG), "
            "which owns its Placement records: change them through Cyborg's "
            "own API (openstack accelerator ...); nothing written",
            self.gpu_fails('reserved', 'reset', '--any',
                           'cyborg-1:0000:af:00.0'))
        self.assertIn('the 2 GPU(s) --host cyborg-1 selects are managed by '
                      'Cyborg', self.gpu_fails('reserved', 'reset', '--any',
                                               '--host', 'cyborg-1'))
        self.assertEqual(1, self.inventory(self.CYBORG, 'PGPU')['reserved'])

    def test_a_single_vf_is_refused(self):
        self.needs_provider('gpu-sriov-1_0000:4D:00.0')
        self.assertIn('gpu-sriov-1:0000:4d:00.2 is a VF in the pool of 4 VFs '
                      'of the PF at gpu-sriov-1:0000:4d:00.0',
                      self.gpu_fails('reserved', 'reset', '--any',
                                     'gpu-sriov-1:0000:4d:00.2'))

    def test_host_selection_is_gpus_only_either_host_spelling(self):
        fqdn = 'gpu-l40s-1.dc1.example.org'
        self.needs_provider(fqdn)
        for host in ('gpu-l40s-1', fqdn.upper()):
            rows = self.gpu('reserved', 'reset', '--host', host, '--any',
                            '--dry-run')
            self.assertEqual([('gpu-l40s-1', '0000:1b:00.0'),
                              ('gpu-l40s-1', '0000:1c:00.0')],
                             [(r['Host'], r['Address']) for r in rows])
        for host in ('gpu-l40s-9', 'gpu-l40s-9.dc1.example.org'):
            self.assertIn("no compute host named '%s'" % host,
                          self.gpu_fails('reserved', 'reset', '--host', host))
