"""openstack gpu audit against the sandbox: each fault made for real, found,
named with its fix, and put back."""
import json
import tempfile
import threading
import uuid

import fixtures

from gpuclient.access import cloud as cloud_mod
from gpuclient.access import compute
from gpuclient.access import http
from gpu_sandbox import client
from tests.functional import base

A30 = 'CUSTOM_PCI_10DE_20B7'
A30_DEVICE = 'gpu-a30-1:0000:81:00.0'
H100 = base.H100_CLASS
KEYS = ['check', 'detail', 'fix', 'severity', 'subject']


class AuditTestCase(base.SandboxTestCase):

    def audit(self, *args):
        """(exit code, findings, stderr) of `gpu audit -f json`."""
        code, out, err = self.run_openstack('gpu', 'audit', *args,
                                            '-f', 'json')
        self.assertNotIn('Traceback', err)
        return code, json.loads(out or '[]'), err

    def finding(self, check, subject, *args):
        """The one finding of `check` about `subject`; the audit exits 1."""
        code, found, err = self.audit('--check', check, *args)
        self.assertEqual(1, code, err)
        for f in found:
            self.assertEqual(KEYS, sorted(f))
        mine = [f for f in found if f['subject'] == subject]
        self.assertEqual(1, len(mine), found)
        return mine[0]

    def assert_clean(self, *args):
        code, found, err = self.audit(*args)
        self.assertEqual((0, []), (code, found), err)
        self.assertIn('no problems found', err)

    def uuid_of(self, name):
        return self.provider(name)['uuid']


class TestCleanCloud(AuditTestCase):

    def test_fresh_sandbox_has_no_problem(self):
        # The default fleet's facts (info): two vGPU hosts left unlabelled
        # on purpose, and the L4 whose max_instances leaves two VFs without
        # a provider; the rest is clean.
        # With bare metal (the default release), the node in maintenance
        # (a warning: exit 1) and the L40S node with no GPU trait.
        code, found, err = self.audit()
        nodes = 'baremetal' in self.sandbox().urls
        self.assertEqual(1 if nodes else 0, code, err)
        self.assertEqual(
            ([('warning', 'baremetal-out-of-service', 'bm-a100-2')]
             if nodes else [])
            + ([('info', 'baremetal-untagged', 'bm-l40s-1')] if nodes
               else [])
            + [('info', 'vgpu-unlabelled', 'host vgpu-1'),
               ('info', 'vgpu-unlabelled', 'host vgpu-2'),
               ('info', 'vgpu-vfs-without-provider',
                'vgpu-l4-1:0000:ca:00.0')],
            [(f['severity'], f['check'], f['subject']) for f in found])
        facts = ('vgpu-unlabelled', 'vgpu-vfs-without-provider',
                 'baremetal-untagged', 'baremetal-out-of-service')
        checks = [c['check'] for c in self.gpu('audit', '--list-checks')
                  if c['check'] not in facts]
        args = [a for c in checks for a in ('--check', c)]
        self.assert_clean(*args)
        code, out, err = self.run_openstack('gpu', 'audit', *args)
        self.assertEqual((0, ''), (code, out.strip()))
        self.assertEqual(1, len(err.strip().splitlines()), err)

    def test_list_checks_says_why(self):
        checks = self.gpu('audit', '--list-checks')
        self.assertIn('leaked-allocation', [c['check'] for c in checks])
        self.assertTrue(all(c['why'] for c in checks))

    def test_bad_usage_exits_2_in_one_line(self):
        for args in (('--check', 'no-such-check'),
                     ('--nova-conf', '/nonexistent/nova.conf'),
                     ('--host', ''), ('--host', ' '),
                     ('--host', 'no-such-host')):
            code, out, err = self.run_openstack('gpu', 'audit', *args)
            self.assertEqual(2, code, err)
            self.assertEqual(1, len(err.strip().splitlines()), err)
            self.assertNotIn('Traceback', err)

    def test_member_could_not_audit_with_the_403_line(self):
        # Refused is not "problems found": a monitoring check reads 3 as
        # UNKNOWN, 1 as WARNING.
        code, out, err = self.run_openstack('gpu', 'audit',
                                            cloud=client.MEMBER_CLOUD)
        self.assertEqual(3, code, err)
        [line] = err.strip().splitlines()
        self.assertIn('403', line)
        self.assertNotIn('Traceback', err)

    def test_service_down_is_one_line_naming_it(self):
        # Nova answers; Placement's endpoint has nothing listening.
        down = cloud_mod.Cloud(self.sandbox().session(), 'RegionOne',
                               endpoints={'placement': 'http://127.0.0.1:9'})
        code, out, err = self.run_openstack('gpu', 'audit', gpu_client=down)
        self.assertEqual(3, code, err)
        [line] = err.strip().splitlines()
        self.assertIn('placement', line.lower())
        self.assertIn('could not audit', line)


class TestRequests(AuditTestCase):

    def requests(self, *args):
        """How many HTTP requests one `openstack gpu ...` run makes."""
        count, lock = [0], threading.Lock()
        real = http.Service.request

        def counted(service, *a, **kw):
            with lock:
                count[0] += 1
            return real(service, *a, **kw)

        with fixtures.MonkeyPatch('gpuclient.access.http.Service.request',
                                  counted):
            code, _, err = self.run_openstack('gpu', *args)
        self.assertIn(code, (0, 1), err)
        return count[0]

    def test_at_most_the_device_list_reads_plus_a_constant_number(self):
        # Each Nova listing is one request per 1000 records (a page).
        in_use = self.placement('GET', '/traits', '1.6', params={
            'associated': 'true', 'name': 'startswith:CUSTOM_'})['traits']
        required = {k.split(':', 1)[1] for f in self.sandbox().compute(
            'GET', '/flavors/detail?is_public=None').json()['flavors']
            for k, v in f.get('extra_specs', {}).items()
            if k.startswith('trait') and v == 'required'}
        extra = (3 + len(compute.MIGRATION_IN_PROGRESS)
                 + len(set(in_use) | required))
        # The audit reads every device, as --all-devices does: a budget,
        # not a formula (a cheaper read strategy must still pass).
        self.assertLessEqual(self.requests('audit'), self.requests(
            'device', 'list', '--all-devices') + extra)


class TestFaults(AuditTestCase):

    def test_leaked_allocation(self):
        consumer = str(uuid.uuid4())
        project = self.sandbox().session().get_project_id()
        user = self.sandbox().session().get_user_id()
        self.placement('PUT', '/allocations/%s' % consumer, '1.28', json={
            'allocations': {self.uuid_of('gpu-a30-1_0000:81:00.0'): {
                'resources': {A30: 1}}},
            'project_id': project, 'user_id': user,
            'consumer_generation': None})
        self.addCleanup(self.placement, 'DELETE', '/allocations/%s'
                        % consumer)
        f = self.finding('leaked-allocation', A30_DEVICE)
        self.assertEqual('error', f['severity'])
        self.assertIn(consumer, f['detail'])
        self.assertEqual('openstack resource provider allocation delete %s'
                         % consumer, f['fix'])

    def test_resources_flavor_and_its_server(self):
        flavor = self.create_flavor({'resources:%s' % A30: '1'})
        server = self.boot(flavor)
        f = self.finding('gpu-not-attached', 'flavor %s' % flavor)
        self.assertIn('resources:%s' % A30, f['fix'])
        f = self.finding('gpu-not-attached', 'server %s (%s)'
                         % (server['name'], server['id']))
        self.assertEqual('error', f['severity'])
        self.assertIn('gpu-a30-1:', f['detail'])

    def test_server_holding_less_than_its_flavor_asks(self):
        # A hand-cut VGPU allocation stays cut (Nova restores only PCI ones).
        server = self.boot(self.create_flavor({'resources:VGPU': '1'}))
        path = '/allocations/%s' % server['id']
        held = self.placement('GET', path, '1.28')
        kept = {rp: a for rp, a in held['allocations'].items()
                if 'VGPU' not in a['resources']}
        self.assertEqual(1, len(held['allocations']) - len(kept))
        self.placement('PUT', path, '1.28', json=dict(
            held, allocations={rp: {'resources': a['resources']}
                               for rp, a in kept.items()}))
        f = self.finding('allocation-mismatch', 'server %s (%s)'
                         % (server['name'], server['id']))
        self.assertIn('asks for 1 × VGPU, holds 0', f['detail'])
        self.assertEqual('openstack gpu allocation show %s' % server['id'],
                         f['fix'])

    def test_flavor_with_alias_and_resources_of_its_class(self):
        flavor = self.create_flavor({'pci_passthrough:alias': 'a30:1',
                                     'resources:%s' % A30: '1'})
        f = self.finding('never-schedules', 'flavor %s' % flavor)
        self.assertIn('NoValidHost', f['detail'])

    def test_released_one_time_use_gpu_waits_for_scrub(self):
        self.released_h100()
        code, found, err = self.audit('--check', 'scrub-waiting')
        # Info only: the audit still passes.
        self.assertEqual(0, code, err)
        [f] = found
        self.assertEqual(('info', 'host gpu-h100-1'),
                         (f['severity'], f['subject']))
        self.assertIn('reserved reset --host gpu-h100-1', f['fix'])

    def test_reset_while_in_use(self):
        for address in ('0000:C1:00.0', '0000:C2:00.0'):
            self.addCleanup(self.set_reserved, 'gpu-h100-1_' + address,
                            H100, 0)
        server = self.boot(self.create_flavor(
            {'pci_passthrough:alias': 'h100:1'}))
        [name] = [n for n in self.allocations(server['id'])
                  if n.startswith('gpu-h100-1_')]
        self.wait_reserved(name, H100)
        self.set_reserved(name, H100, 0)
        subject = 'gpu-h100-1:' + name.split('_', 1)[1].lower()
        f = self.finding('unsafe-reserved', subject)
        self.assertEqual('error', f['severity'])
        self.assertIn('%s:reserved=1 %s' % (H100, self.uuid_of(name)),
                      f['fix'])

    def test_hand_reserved_a30_and_its_fix(self):
        self.addCleanup(self.set_reserved, 'gpu-a30-1_0000:81:00.0', A30, 0)
        self.set_reserved('gpu-a30-1_0000:81:00.0', A30, 1)
        f = self.finding('out-of-service', A30_DEVICE)
        self.assertEqual('warning', f['severity'])
        self.assertEqual(f, self.finding('out-of-service', A30_DEVICE,
                                         '--host', 'gpu-a30-1'))
        self.assert_clean('--check', 'out-of-service', '--host', 'gpu-h100-1')
        # The fix it names is a command that works.
        self.gpu(*f['fix'].split()[2:])
        self.assert_clean('--check', 'out-of-service')

    def test_transient_trait_on_a_passthrough_device(self):
        trait = 'CUSTOM_GPUCLIENT_AUDIT_TEST'
        self.placement('PUT', '/traits/%s' % trait)
        rp = self.uuid_of('gpu-a30-1_0000:81:00.0')
        body = self.placement('GET', '/resource_providers/%s/traits' % rp)
        self.addCleanup(self._put_traits, rp, body['traits'])
        self._put_traits(rp, body['traits'] + [trait])
        f = self.finding('transient-trait', A30_DEVICE)
        self.assertIn(trait, f['detail'])
        self.assertIn('device_spec', f['fix'])
        self.assertIn(trait, f['fix'])

    def _put_traits(self, rp, traits):
        generation = self.placement(
            'GET', '/resource_providers/%s/traits' % rp)[
                'resource_provider_generation']
        self.placement('PUT', '/resource_providers/%s/traits' % rp, json={
            'traits': traits, 'resource_provider_generation': generation})

    def test_vgpu_provider_whose_inventory_went_to_zero(self):
        name = 'vgpu-1_pci_0000_84_00_0'
        rp = self.uuid_of(name)
        path = '/resource_providers/%s/inventories' % rp
        before = self.placement('GET', path)['inventories']
        self.addCleanup(self._put_inventories, path, before)
        self.placement('DELETE', path)
        f = self.finding('vgpu-no-capacity', 'vgpu-1:0000:84:00.0')
        self.assertEqual('warning', f['severity'])
        self.assertIn('nova-compute', f['fix'])

    def test_two_vgpu_types_nothing_tells_apart(self):
        path = '/resource_providers/%s/inventories' % self.uuid_of(
            'vgpu-1_pci_0000_85_00_0')
        before = self.placement('GET', path)['inventories']
        self.addCleanup(self._put_inventories, path, before)
        # As a GPU given a type with 8 instances instead of 16.
        self._put_inventories(path, {'VGPU': dict(before['VGPU'], total=8,
                                                  max_unit=8)})
        f = self.finding('vgpu-indistinct', 'host vgpu-1')
        self.assertIn('8 or 16', f['detail'])

    def _put_inventories(self, path, inventories):
        generation = self.placement('GET', path)[
            'resource_provider_generation']
        self.placement('PUT', path, json={
            'inventories': inventories,
            'resource_provider_generation': generation})

    def test_cyborg_and_nova_provider_at_one_address(self):
        # As Cyborg writes a GPU (cyborg/conductor and its nvidia driver):
        # a child of the compute root named <host>_<address> in lower case,
        # uuid3 of the name, class PGPU, OWNER_CYBORG and a model trait.
        # Nova names the same device with upper-case hex (0000:2B:00.0).
        root = self.provider('gpu-a100-1')['uuid']
        name = 'gpu-a100-1_0000:2b:00.0'
        rp = str(uuid.uuid3(uuid.NAMESPACE_DNS, name))
        self.placement('POST', '/resource_providers', json={
            'name': name, 'uuid': rp, 'parent_provider_uuid': root})
        self.addCleanup(self.placement, 'DELETE',
                        '/resource_providers/%s' % rp)
        self._put_inventories('/resource_providers/%s/inventories' % rp, {
            'PGPU': {'total': 1, 'max_unit': 1}})
        self.placement('PUT', '/traits/CUSTOM_NVIDIA_20B0')
        self._put_traits(rp, ['OWNER_CYBORG', 'CUSTOM_NVIDIA_20B0'])
        f = self.finding('two-owners', 'gpu-a100-1:0000:2b:00.0')
        self.assertEqual('error', f['severity'])
        self.assertIn('device_spec', f['fix'])


class TestNovaConf(AuditTestCase):

    def test_alias_nova_conf_does_not_define(self):
        flavor = self.create_flavor({'pci_passthrough:alias': 'a30:1'})
        with tempfile.NamedTemporaryFile('w', suffix='.conf') as conf:
            conf.write('[pci]\nalias = {"name": "h100", "vendor_id": '
                       '"10de", "product_id": "2330", '
                       '"device_type": "type-PCI"}\n')
            conf.flush()
            f = self.finding('never-schedules', 'flavor %s' % flavor,
                             '--nova-conf', conf.name)
        self.assertIn('alias a30 is not defined', f['detail'])


class TestNeverSchedules(AuditTestCase):

    def test_trait_placement_does_not_know_and_class_nobody_offers(self):
        # Placement answers 400 to ?required= of an unknown trait: the
        # audit must still report the flavor, not fail.
        trait = 'CUSTOM_GPUCLIENT_NOBODY_%s' % uuid.uuid4().hex[:8].upper()
        by_trait = self.create_flavor({'resources:VGPU': '1',
                                       'trait:%s' % trait: 'required'})
        by_class = self.create_flavor({'resources:CUSTOM_VGPU_NOBODY': '1'})
        f = self.finding('never-schedules', 'flavor %s' % by_trait)
        self.assertIn(trait, f['detail'])
        f = self.finding('never-schedules', 'flavor %s' % by_class)
        self.assertIn('no provider offers CUSTOM_VGPU_NOBODY', f['detail'])
