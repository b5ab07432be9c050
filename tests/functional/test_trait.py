"""openstack gpu trait tag | untag against the sandbox: vGPU GPUs on vgpu-1,
PCI-in-Placement devices on gpu-a30-1 and gpu-a100-1, and what Nova's
periodic update does to the traits of each."""
import collections
import json
import os
import subprocess
import sys
import threading

from gpuclient.access import cloud as cloud_mod
from gpuclient.access import placement as placement_mod
from gpuclient.model import traits as traits_mod
from gpu_sandbox import client
from tests.functional import base

VGPU_HOST = 'vgpu-1'
VGPU_ADDRESSES = ('0000:84:00.0', '0000:85:00.0', '0000:86:00.0',
                  '0000:87:00.0')
NVIDIA_35 = 'CUSTOM_NVIDIA_35'
A30 = 'gpu-a30-1:0000:81:00.0'
A100 = 'gpu-a100-1:0000:25:00.0'


def vgpu_provider(address):
    return '%s_pci_%s' % (VGPU_HOST, address.replace(':', '_')
                          .replace('.', '_'))


def pci_provider(device):
    host, address = device.split(':', 1)
    return '%s_%s' % (host, address.upper())


def by_address(rows):
    return {r['Address']: (r['Traits Before'], r['Traits After'],
                           r['Result']) for r in rows}


class InterleavedTagger(placement_mod.Placement):
    """A real Placement client with another writer in the command's way:
    once the command is writing (its device snapshot is read), each read of
    a target provider's traits is followed, before the command sees the
    answer, by one real write, writer(uuid); `times` per provider."""

    def __init__(self, service, writer, targets=None, times=1):
        super().__init__(service)
        self.writer, self.targets = writer, targets
        self.left = collections.defaultdict(lambda: times)
        self.writing = False
        self.write_attempts = collections.Counter()
        # One interleaved write at a time: a writer may run the shell.
        self.lock = threading.Lock()

    def read_modify_write(self, read, change, write):
        self.writing = True
        return super().read_modify_write(read, change, write)

    def traits(self, uuid):
        body = super().traits(uuid)
        if self.writing and self.targets in (None, {uuid}):
            with self.lock:
                if self.left[uuid]:
                    self.left[uuid] -= 1
                    self.writer(uuid)
        return body

    def put_traits(self, uuid, generation, traits):
        with self.lock:
            self.write_attempts[uuid] += 1
        return super().put_traits(uuid, generation, traits)


class TraitTestCase(base.SandboxTestCase):

    def traits_of(self, provider_name):
        uuid = self.provider(provider_name)['uuid']
        return sorted(self.placement(
            'GET', '/resource_providers/%s/traits' % uuid)['traits'])

    def vgpu_traits(self):
        return {a: self.traits_of(vgpu_provider(a)) for a in VGPU_ADDRESSES}

    def trait_exists(self, name):
        sandbox = self.sandbox()
        return sandbox.session().get(
            sandbox.urls['placement'] + '/traits/' + name,
            microversion='1.6', microversion_service_type='placement',
            raise_exc=False).status_code == 204

    def use_trait(self, name):
        """Whatever the test does, no provider keeps `name` and Placement
        forgets it."""
        self.addCleanup(self.remove_trait, name)

    def remove_trait(self, name):
        if not self.trait_exists(name):
            return
        for p in self.placement('GET', '/resource_providers', params={
                'required': name})['resource_providers']:
            path = '/resource_providers/%s/traits' % p['uuid']
            body = self.placement('GET', path)
            body['traits'].remove(name)
            self.placement('PUT', path, json=body)
        self.placement('DELETE', '/traits/%s' % name)

    def refresh_nova_provider_cache(self):
        """A periodic update as Nova runs it every [compute]
        resource_provider_association_refresh seconds: its provider cache
        is re-read from Placement first."""
        self.sandbox().periodic(refresh_provider_cache=True)


class TestTagVgpu(TraitTestCase):

    def test_tag_all_vgpu_gpus_keeps_traits_lasts_and_routes_a_flavor(self):
        self.use_trait(NVIDIA_35)
        before = self.vgpu_traits()
        flavor = self.create_flavor({'resources:VGPU': '1',
                                     'trait:%s' % NVIDIA_35: 'required'})
        self.boot(flavor, status='ERROR')   # no GPU has the trait yet

        rows = by_address(self.gpu('trait', 'tag', NVIDIA_35,
                                   '--host', VGPU_HOST))
        tagged = {a: sorted(t + [NVIDIA_35]) for a, t in before.items()}
        self.assertEqual({a: (before[a], tagged[a], 'tagged')
                          for a in VGPU_ADDRESSES}, rows)
        self.assertEqual(tagged, self.vgpu_traits())

        # Nova adds its own traits to vGPU providers and leaves the rest,
        # on a plain periodic update and on one that refreshes its cache.
        self.sandbox().periodic()
        self.assertEqual(tagged, self.vgpu_traits())
        self.refresh_nova_provider_cache()
        self.assertEqual(tagged, self.vgpu_traits())

        server = self.boot(flavor)
        held = self.allocations(server['id'])
        self.assertEqual(
            1, sum(1 for a in VGPU_ADDRESSES
                   if held.get(vgpu_provider(a)) == {'VGPU': 1}), held)

        again = by_address(self.gpu('trait', 'tag', NVIDIA_35,
                                    '--resource-class', 'VGPU'))
        self.assertEqual({a: (tagged[a], tagged[a], 'unchanged')
                          for a in VGPU_ADDRESSES}, again)

        rows = by_address(self.gpu('trait', 'untag', NVIDIA_35,
                                   '--host', VGPU_HOST))
        self.assertEqual({a: (tagged[a], before[a], 'untagged')
                          for a in VGPU_ADDRESSES}, rows)
        self.assertEqual(before, self.vgpu_traits())

    def test_table_output_lists_one_trait_per_line(self):
        self.use_trait(NVIDIA_35)
        device = 'vgpu-1:84:00.0'
        code, out, err = self.run_openstack('gpu', 'trait', 'tag',
                                            NVIDIA_35, device)
        self.assertEqual(0, code, err)
        for trait in self.nova_traits() | {NVIDIA_35}:
            self.assertIn('| %s ' % trait, out)


class TestPciDevice(TraitTestCase):

    def test_tag_refused_with_the_device_spec_hint_nothing_written(self):
        trait = 'CUSTOM_GPUCLIENT_TEST_PCI'
        self.use_trait(trait)
        before = self.traits_of(pci_provider(A30))

        line = self.gpu_fails('trait', 'tag', trait, A30)
        self.assertIn('PCI-in-Placement devices (%s)' % A30, line)
        self.assertIn('set on gpu-a30-1 [pci] device_spec = {"vendor_id": '
                      '"10de", "product_id": "20b7", "traits": "%s"}, then '
                      'restart nova-compute there' % trait, line)
        self.assertIn('--transient tags them until then', line)
        self.assertEqual(before, self.traits_of(pci_provider(A30)))
        self.assertFalse(self.trait_exists(trait))

    def test_custom_class_device_hint_names_its_entry_by_class(self):
        line = self.gpu_fails('trait', 'tag', NVIDIA_35, '--model', 'A100')
        self.assertIn('on gpu-a100-1 "traits": "%s,CUSTOM_NVLINK" in the '
                      '[pci] device_spec entry with "resource_class": '
                      '"CUSTOM_A100"' % NVIDIA_35, line)
        self.assertIn('(gpu-a100-1:0000:25:00.0, gpu-a100-1:0000:2b:00.0, '
                      'gpu-a100-1:0000:48:00.0, gpu-a100-1:0000:4d:00.0)',
                      line)

    def test_transient_tag_lasts_until_nova_refreshes_its_cache(self):
        trait = 'CUSTOM_GPUCLIENT_TEST_PCI'
        self.use_trait(trait)
        # A fresh cache: Nova's own refresh is 300 s away.
        self.refresh_nova_provider_cache()
        before = self.traits_of(pci_provider(A30))
        self.assertEqual(sorted({'COMPUTE_MANAGED_PCI_DEVICE'}
                                | self.nova_traits()), before)

        [row] = self.gpu('trait', 'tag', trait, A30, '--transient')
        tagged = sorted(before + [trait])
        self.assertEqual((before, tagged, traits_mod.TAGGED_TRANSIENT),
                         (row['Traits Before'], row['Traits After'],
                          row['Result']))
        self.assertEqual(tagged, self.traits_of(pci_provider(A30)))

        # Nova's plain periodic update compares with its cache: no change.
        self.sandbox().periodic()
        self.assertEqual(tagged, self.traits_of(pci_provider(A30)))
        # Once it re-reads Placement, it puts back the device_spec traits.
        refreshed = subprocess.run(
            [sys.executable, '-m', 'gpu_sandbox.cli', '--state-dir',
             self.sandbox().state.dir, 'periodic',
             '--refresh-provider-cache'],
            capture_output=True, text=True, timeout=300)
        self.assertIn('provider caches refreshed', refreshed.stdout,
                      refreshed.stderr)
        self.assertEqual(before, self.traits_of(pci_provider(A30)))

    def test_untag_of_a_device_spec_trait_comes_back(self):
        self.addCleanup(self.refresh_nova_provider_cache)
        line = self.gpu_fails('trait', 'untag', 'CUSTOM_NVLINK', A100)
        self.assertIn('on gpu-a100-1 "traits": "" in the [pci] device_spec '
                      'entry with "resource_class": "CUSTOM_A100"', line)
        self.assertIn('--transient removes it now', line)

        self.refresh_nova_provider_cache()
        before = self.traits_of(pci_provider(A100))
        self.assertIn('CUSTOM_NVLINK', before)
        [row] = self.gpu('trait', 'untag', 'CUSTOM_NVLINK', A100,
                         '--transient')
        untagged = [t for t in before if t != 'CUSTOM_NVLINK']
        self.assertEqual((untagged, traits_mod.UNTAGGED_TRANSIENT),
                         (row['Traits After'], row['Result']))
        self.sandbox().periodic()
        self.assertEqual(untagged, self.traits_of(pci_provider(A100)))
        self.refresh_nova_provider_cache()
        self.assertEqual(before, self.traits_of(pci_provider(A100)))


class TestConcurrentWriters(TraitTestCase):
    TRAIT_A = 'CUSTOM_GPUCLIENT_TEST_A'
    TRAIT_B = 'CUSTOM_GPUCLIENT_TEST_B'

    def setUp(self):
        super().setUp()
        self.use_trait(self.TRAIT_A)
        self.use_trait(self.TRAIT_B)
        self.devices = ['%s:%s' % (VGPU_HOST, a) for a in VGPU_ADDRESSES]
        self.uuids = {a: self.provider(vgpu_provider(a))['uuid']
                      for a in VGPU_ADDRESSES}
        self.before = self.vgpu_traits()

    def tag_with(self, placement, trait, *args):
        """(exit code, rows by address, stderr) of a tag command whose
        Placement client is `placement`."""
        cloud = cloud_mod.Cloud(self.sandbox().session(), 'RegionOne')
        cloud.placement = placement(cloud.placement.service)
        code, out, err = self.run_openstack(
            'gpu', 'trait', 'tag', trait, *args, '-f', 'json',
            gpu_client=cloud)
        return code, by_address(json.loads(out or '[]')), err, \
            cloud.placement

    def test_two_tag_commands_interleaved_keep_both_traits(self):
        def tag_b(uuid):
            # The other command, run to completion between A's read of
            # this GPU's traits and A's write.
            code, out, err = self.run_openstack(
                'gpu', 'trait', 'tag', self.TRAIT_B, uuid, '-f', 'json')
            self.assertEqual(0, code, err)
            self.assertEqual('tagged', json.loads(out)[0]['Result'])

        code, rows, err, placement = self.tag_with(
            lambda service: InterleavedTagger(service, tag_b),
            self.TRAIT_A, *self.devices)

        self.assertEqual((0, ''), (code, err))
        both = {a: sorted(t + [self.TRAIT_A, self.TRAIT_B])
                for a, t in self.before.items()}
        # A's first write was refused (stale generation): it re-read the
        # traits, B's included, and wrote A on top of them.
        self.assertEqual({a: (sorted(t + [self.TRAIT_B]), both[a], 'tagged')
                          for a, t in self.before.items()}, rows)
        self.assertEqual(both, self.vgpu_traits())
        self.assertEqual({u: 2 for u in self.uuids.values()},
                         dict(placement.write_attempts))

    def test_provider_that_keeps_changing_fails_with_exit_1(self):
        target = VGPU_ADDRESSES[0]

        def toggle_b(uuid):
            # A real change each time: Placement keeps the generation of a
            # PUT that changes nothing.
            path = '/resource_providers/%s/traits' % uuid
            body = self.placement('GET', path)
            body['traits'] = sorted(set(body['traits'])
                                    ^ {self.TRAIT_B})
            self.placement('PUT', '/traits/%s' % self.TRAIT_B)
            self.placement('PUT', path, json=body)

        code, rows, err, placement = self.tag_with(
            lambda service: InterleavedTagger(
                service, toggle_b, targets={self.uuids[target]},
                times=placement_mod.WRITE_ATTEMPTS),
            self.TRAIT_A, '--host', VGPU_HOST)

        self.assertEqual(1, code)
        self.assertEqual('1 of 4 GPUs could not be changed: see the Result '
                         'column', err.strip())
        before, after, result = rows.pop(target)
        self.assertEqual(before, after)
        self.assertNotIn(self.TRAIT_A, after)
        self.assertIn('failed: Placement: the provider kept changing under '
                      '%d attempts' % placement_mod.WRITE_ATTEMPTS, result)
        self.assertEqual(placement_mod.WRITE_ATTEMPTS,
                         placement.write_attempts[self.uuids[target]])
        self.assertEqual(['tagged'] * 3, [r[2] for r in rows.values()])
        now = self.vgpu_traits()
        self.assertNotIn(self.TRAIT_A, now.pop(target))
        self.assertEqual({a: sorted(self.before[a] + [self.TRAIT_A])
                          for a in rows}, now)


class TestTenConcurrentCommands(TraitTestCase):
    """Ten operators at once, each a separate `openstack` process: Placement
    16 refuses some of their writes with 409 and some with HTTP 500
    "Another thread concurrently updated the resource provider data"; each
    command re-reads and retries until its own trait is written."""
    TRAITS = ['CUSTOM_GPUCLIENT_TEST_TEN_%d' % i for i in range(10)]

    def run_together(self, command):
        openstack = os.path.join(os.path.dirname(sys.executable), 'openstack')
        processes = [subprocess.Popen(
            [openstack, '--os-cloud', client.ADMIN_CLOUD, 'gpu', 'trait',
             command, trait, '--host', VGPU_HOST, '-f', 'json'],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for trait in self.TRAITS]
        done = [p.communicate(timeout=300) for p in processes]
        # A failure shows its rows too: the Result column says why.
        return [(p.returncode, err + (out if p.returncode else ''))
                for p, (out, err) in zip(processes, done)]

    def test_ten_tag_then_ten_untag_commands_all_succeed(self):
        for trait in self.TRAITS:
            self.use_trait(trait)
        before = self.vgpu_traits()
        self.assertEqual([(0, '')] * 10, self.run_together('tag'))
        self.assertEqual({a: sorted(t + self.TRAITS)
                          for a, t in before.items()}, self.vgpu_traits())
        self.assertEqual([(0, '')] * 10, self.run_together('untag'))
        self.assertEqual(before, self.vgpu_traits())


class TestBadInput(TraitTestCase):

    def test_bad_names_exit_1_with_one_line(self):
        before = self.vgpu_traits()
        for command in ('tag', 'untag'):
            for name, expected in (
                    ('nvidia_11', 'did you mean CUSTOM_NVIDIA_11?'),
                    ('CUSTOM_', "invalid trait name 'CUSTOM_': a custom trait "
                                'is CUSTOM_ followed by upper-case letters, '
                                'digits and _'),
                    ('CUSTOM_a', 'did you mean CUSTOM_A?'),
                    ('CUSTOM_' + 'X' * 250, 'Placement allows at most 255')):
                line = self.gpu_fails('trait', command, name,
                                      '--host', VGPU_HOST)
                self.assertIn(expected, line)
        self.assertEqual(before, self.vgpu_traits())

    def test_selection_refusals(self):
        for args, expected in (
                ((), 'name the GPUs (<device>...) or select them with --host'),
                ((A30, '--host', 'gpu-a30-1'), 'not both'),
                (('--host', 'gpu-h100-1', '--model', 'A30'),
                 'no GPU matches --host gpu-h100-1 --model A30'),
                (('--host', 'nope'), "no compute host named 'nope'"),
                (('--model', 'Z9000'), "unknown model 'Z9000'"),
                (('--resource-class', 'CUSTOM_NOPE'),
                 "no resource class 'CUSTOM_NOPE'"),
                (('gpu-a30-1:0000:99:00.0',),
                 "no GPU device 'gpu-a30-1:0000:99:00.0'")):
            self.assertIn(expected, self.gpu_fails(
                'trait', 'tag', 'CUSTOM_GPUCLIENT_TEST_NEVER', *args))
        self.assertFalse(self.trait_exists('CUSTOM_GPUCLIENT_TEST_NEVER'))

    def test_untag_of_an_unknown_trait(self):
        self.assertEqual(
            "no trait 'CUSTOM_GPUCLIENT_TEST_NOPE' in Placement",
            self.gpu_fails('trait', 'untag', 'CUSTOM_GPUCLIENT_TEST_NOPE',
                           '--host', VGPU_HOST))


class TestNeverWritten(TraitTestCase):
    """Devices of the default fleet (issue 11) that no tag may touch, and
    selections that cover GPUs only."""
    TRAIT = 'CUSTOM_GPUCLIENT_TEST_NEVER'

    def test_cyborg_gpus_are_refused_nothing_written(self):
        self.needs_provider('cyborg-1_0000:af:00.0')
        before = self.traits_of('cyborg-1_0000:af:00.0')
        for command in ('tag', 'untag'):
            self.assertEqual(
                "cyborg-1:0000:af:00.0 is managed by Cyborg (trait "
                "OWNER_CYBORG), which owns its Placement records: change "
                "them through Cyborg's own API (openstack accelerator ...); "
                "nothing written",
                self.gpu_fails('trait', command, 'CUSTOM_NVIDIA_1EB8',
                               'cyborg-1:0000:af:00.0', '--transient'))
        self.assertIn('the 2 GPU(s) --host cyborg-1 selects are managed by '
                      'Cyborg', self.gpu_fails('trait', 'tag', self.TRAIT,
                                               '--host', 'cyborg-1'))
        self.assertEqual(before, self.traits_of('cyborg-1_0000:af:00.0'))
        self.assertFalse(self.trait_exists(self.TRAIT))

    def test_a_single_vf_is_refused(self):
        self.needs_provider('gpu-sriov-1_0000:4D:00.0')
        before = self.traits_of('gpu-sriov-1_0000:4D:00.0')
        self.assertIn('gpu-sriov-1:0000:4d:00.3 is a VF in the pool of 4 VFs',
                      self.gpu_fails('trait', 'tag', self.TRAIT,
                                     'gpu-sriov-1:0000:4d:00.3',
                                     '--transient'))
        self.assertEqual(before, self.traits_of('gpu-sriov-1_0000:4D:00.0'))
        self.assertFalse(self.trait_exists(self.TRAIT))

    def test_host_selection_is_gpus_only_either_host_spelling(self):
        fqdn = 'gpu-l40s-1.dc1.example.org'
        self.needs_provider(fqdn)
        trait = 'CUSTOM_GPUCLIENT_TEST_L40S'
        self.use_trait(trait)
        rows = self.gpu('trait', 'tag', trait, '--host', fqdn.upper(),
                        '--transient')
        self.assertEqual([('gpu-l40s-1', '0000:1b:00.0'),
                          ('gpu-l40s-1', '0000:1c:00.0')],
                         [(r['Host'], r['Address']) for r in rows])
        for address in ('3B', '5E'):   # the NIC and the NVMe drive
            self.assertNotIn(trait, self.traits_of('%s_0000:%s:00.0'
                                                   % (fqdn, address)))
        rows = self.gpu('trait', 'untag', trait, '--host', 'gpu-l40s-1',
                        '--transient')
        self.assertEqual(2, len(rows))
        for host in ('gpu-l40s-9', 'gpu-l40s-9.dc1.example.org'):
            self.assertIn("no compute host named '%s'" % host,
                          self.gpu_fails('trait', 'tag', self.TRAIT,
                                         '--host', host))
        self.assertFalse(self.trait_exists(self.TRAIT))
