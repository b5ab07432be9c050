"""The audit's checks: one test class per check, over plain records."""
import types

import testtools

from gpuclient.model import audit
from gpuclient.model import devices
from tests import factories

A30 = 'CUSTOM_PCI_10DE_20B7'
H100 = 'CUSTOM_PCI_10DE_2330'


def device(host='gpu-a30-1', address='0000:81:00.0',
           kind=devices.PASSTHROUGH, rc=A30, total=1, used=0, reserved=0,
           consumers=None, one_time_use=False, owner=devices.NOVA,
           max_unit=None):
    return factories.device(host, address, rc, kind, total, used or None,
                            reserved, consumers, max_unit=max_unit,
                            one_time_use=one_time_use, hypervisor=host,
                            owner=owner)


server = factories.server
flavor = factories.flavor


def holders(**by_trait):
    """trait -> providers, from trait -> provider UUIDs."""
    return {t: [{'uuid': u, 'name': u, 'parent_provider_uuid': 'root'}
                for u in uuids] for t, uuids in by_trait.items()}


def check(name, **estate):
    return audit.CHECKS[name].run(audit.Estate(**estate))


class TestLeakedAllocation(testtools.TestCase):

    def test_consumer_with_no_server_is_a_leak_with_its_delete(self):
        [f] = check('leaked-allocation', devices=[device(consumers={'c1': 1})])
        self.assertEqual((audit.ERROR, 'gpu-a30-1:0000:81:00.0'),
                         (f.severity, f.subject))
        self.assertIn('c1', f.detail)
        self.assertEqual('openstack resource provider allocation delete c1',
                         f.fix)

    def test_server_and_migration_in_progress_are_no_leak(self):
        found = [device(consumers={'s1': 1}),
                 device(address='0000:82:00.0', consumers={'m1': 1})]
        self.assertEqual([], check(
            'leaked-allocation', devices=found, servers={'s1': server()},
            migrations=[{'uuid': 'm1', 'instance_uuid': 's1'}]))


class TestNotAttached(testtools.TestCase):
    specs = {'resources:%s' % A30: '1'}

    def test_flavor_and_its_server_holding_the_device(self):
        found = check('gpu-not-attached',
                      devices=[device(consumers={'s1': 1})],
                      servers={'s1': server(specs=self.specs)},
                      flavors=[flavor('bad', self.specs)])
        by_subject = {f.subject: f for f in found}
        self.assertEqual(audit.WARNING, by_subject['flavor bad'].severity)
        f = by_subject['server vm (s1)']
        self.assertEqual(audit.ERROR, f.severity)
        self.assertIn('gpu-a30-1:0000:81:00.0', f.detail)
        self.assertIn('pci_passthrough:alias', f.fix)

    def test_alias_flavor_is_not_this_fault(self):
        specs = dict(self.specs, **{'pci_passthrough:alias': 'a30:1'})
        self.assertEqual([], check('gpu-not-attached', devices=[device()],
                                   flavors=[flavor('f', specs)]))


class TestAllocationMismatch(testtools.TestCase):
    alias = {'pci_passthrough:alias': 'a30:2'}

    def test_fewer_gpus_than_the_flavor_asks(self):
        [f] = check('allocation-mismatch',
                    devices=[device(consumers={'s1': 1})],
                    servers={'s1': server(specs=self.alias)})
        self.assertEqual(('server vm (s1)', audit.ERROR),
                         (f.subject, f.severity))
        self.assertIn('holds 1', f.detail)
        self.assertEqual('openstack gpu allocation show s1', f.fix)

    def test_gpu_under_another_host(self):
        [f] = check('allocation-mismatch',
                    devices=[device(host='gpu-a30-2', consumers={'s1': 1})],
                    servers={'s1': server(
                        specs={'pci_passthrough:alias': 'a30:1'})})
        self.assertIn('not on the server host', f.detail)

    def test_matching_unplaced_and_moving_servers_pass(self):
        found = [device(consumers={'s1': 1}),
                 device(address='0000:82:00.0', consumers={'s1': 1})]
        self.assertEqual([], check(
            'allocation-mismatch', devices=found,
            servers={'s1': server(specs=self.alias),
                     's2': server('s2', self.alias, host=None),
                     's3': server('s3', self.alias)},
            migrations=[{'uuid': 'm3', 'instance_uuid': 's3'}]))

    def test_one_host_audit_leaves_other_hosts_servers_alone(self):
        self.assertEqual([], check(
            'allocation-mismatch', devices=[device()], host='gpu-a30-1',
            servers={'s1': server(specs=self.alias, host='gpu-a30-2')}))


class TestNeverSchedules(testtools.TestCase):

    def findings(self, specs, found=None, **estate):
        found = found or [device(), device(address='0000:82:00.0')]
        inventories = {d.provider_uuid: {'inventories': {
            d.resource_class: d.inventory}} for d in found}
        return check('never-schedules', devices=found,
                     inventories=inventories,
                     flavors=[flavor('f', specs)], **estate)

    def test_alias_with_resources_of_its_class(self):
        [f] = self.findings({'pci_passthrough:alias': 'a30:1',
                             'resources:%s' % A30: '1'})
        self.assertEqual(('flavor f', audit.WARNING), (f.subject, f.severity))
        self.assertIn('NoValidHost', f.detail)

    def test_class_no_provider_offers(self):
        [f] = self.findings({'resources:CUSTOM_VGPU_A16': '1'})
        self.assertIn('no provider offers CUSTOM_VGPU_A16', f.detail)

    def test_more_gpus_than_any_host_has(self):
        [f] = self.findings({'pci_passthrough:alias': 'a30:3'})
        self.assertIn('the most on one host is 2', f.detail)
        self.assertEqual([], self.findings({'pci_passthrough:alias':
                                            'a30:2'}))

    def test_more_vgpus_than_max_unit(self):
        vgpu = [device(kind=devices.VGPU, rc='VGPU', total=16, max_unit=16)]
        [f] = self.findings({'resources:VGPU': '17'}, found=vgpu)
        self.assertIn('at most 16', f.detail)

    def test_required_trait_no_gpu_has(self):
        vgpu = [device(kind=devices.VGPU, rc='VGPU', total=16)]
        specs = {'resources:VGPU': '1', 'trait:CUSTOM_NVIDIA_35': 'required'}
        [f] = self.findings(specs, found=vgpu,
                            holders=holders(CUSTOM_NVIDIA_35=[]))
        self.assertIn('CUSTOM_NVIDIA_35', f.detail)
        self.assertEqual([], self.findings(
            specs, found=vgpu, holders=holders(
                CUSTOM_NVIDIA_35=[vgpu[0].provider_uuid])))

    def test_alias_nova_conf_does_not_define(self):
        conf = types.SimpleNamespace(aliases={}, device_specs=[])
        [f] = self.findings({'pci_passthrough:alias': 'a30:1'},
                            nova_conf=conf)
        self.assertIn('alias a30 is not defined', f.detail)

    def test_skipped_for_one_host(self):
        self.assertEqual([], self.findings(
            {'pci_passthrough:alias': 'a30:9'}, host='gpu-a30-1'))


class TestScrubWaiting(testtools.TestCase):

    def test_count_per_host_as_info(self):
        released = [device('gpu-h100-1', a, rc=H100, reserved=1,
                           one_time_use=True)
                    for a in ('0000:c1:00.0', '0000:c2:00.0')]
        in_use = device('gpu-h100-1', '0000:c3:00.0', rc=H100, reserved=1,
                        one_time_use=True, consumers={'s': 1})
        [f] = check('scrub-waiting', devices=released + [in_use])
        self.assertEqual((audit.INFO, 'host gpu-h100-1'),
                         (f.severity, f.subject))
        self.assertIn('2 one-time-use', f.detail)
        self.assertIn('reserved reset --host gpu-h100-1', f.fix)


class TestOutOfService(testtools.TestCase):

    def test_hand_reserved_device_and_how_to_return_it(self):
        [f] = check('out-of-service', devices=[
            device(reserved=1),
            device('gpu-h100-1', rc=H100, reserved=1, one_time_use=True)])
        self.assertEqual((audit.WARNING, 'gpu-a30-1:0000:81:00.0'),
                         (f.severity, f.subject))
        self.assertEqual('openstack gpu reserved reset --any '
                         'gpu-a30-1:0000:81:00.0', f.fix)


class TestUnsafeReserved(testtools.TestCase):

    def test_one_time_use_reset_while_in_use(self):
        reset = device('gpu-h100-1', rc=H100, one_time_use=True,
                       consumers={'s': 1})
        healthy = device('gpu-h100-1', '0000:c2:00.0', rc=H100, reserved=1,
                         one_time_use=True, consumers={'t': 1})
        [f] = check('unsafe-reserved', devices=[reset, healthy])
        self.assertEqual((audit.ERROR, 'gpu-h100-1:0000:81:00.0'),
                         (f.severity, f.subject))
        self.assertIn('%s:reserved=1 %s' % (H100, reset.provider_uuid),
                      f.fix)


class TestTransientTrait(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.a, self.b = device(), device(address='0000:82:00.0')

    def test_trait_only_one_device_of_a_class_has(self):
        [f] = check('transient-trait', devices=[self.a, self.b],
                    holders=holders(CUSTOM_X=[self.a.provider_uuid]))
        self.assertEqual((audit.WARNING, 'gpu-a30-1:0000:81:00.0'),
                         (f.severity, f.subject))
        self.assertIn('"traits": "CUSTOM_X"', f.fix)

    def test_device_spec_traits_pass(self):
        both = holders(CUSTOM_X=[self.a.provider_uuid, self.b.provider_uuid])
        self.assertEqual([], check('transient-trait',
                                   devices=[self.a, self.b], holders=both))
        conf = types.SimpleNamespace(device_specs=[{'traits': 'x'}])
        self.assertEqual([], check(
            'transient-trait', devices=[self.a], nova_conf=conf,
            holders=holders(CUSTOM_X=[self.a.provider_uuid])))

    def test_with_nova_conf_a_trait_no_device_spec_lists(self):
        conf = types.SimpleNamespace(device_specs=[{'traits': 'Y'}])
        [f] = check('transient-trait', devices=[self.a], nova_conf=conf,
                    holders=holders(CUSTOM_X=[self.a.provider_uuid]))
        self.assertIn('CUSTOM_X', f.detail)


class TestVgpuNoCapacity(testtools.TestCase):

    def test_libvirt_gpu_provider_with_no_inventory(self):
        providers = [
            {'uuid': 'r', 'name': 'vgpu-1.example.org',
             'parent_provider_uuid': None, 'root_provider_uuid': 'r'},
            {'uuid': 'g1', 'name': 'vgpu-1.example.org_pci_0000_84_00_0',
             'parent_provider_uuid': 'r', 'root_provider_uuid': 'r'},
            {'uuid': 'g2', 'name': 'vgpu-1.example.org_pci_0000_85_00_0',
             'parent_provider_uuid': 'r', 'root_provider_uuid': 'r'}]
        inventories = {'g1': {'inventories': {}}, 'g2': {'inventories': {
            'VGPU': {'total': 16}}}}
        [f] = check('vgpu-no-capacity', devices=[], providers=providers,
                    inventories=inventories,
                    hosts={'vgpu-1.example.org': 'vgpu-1'})
        self.assertEqual((audit.WARNING, 'vgpu-1:0000:84:00.0'),
                         (f.severity, f.subject))


class TestVgpuIndistinct(testtools.TestCase):

    def test_two_types_one_class_no_trait(self):
        gpus = [device('vgpu-1', '0000:84:00.0', devices.VGPU, 'VGPU', 16),
                device('vgpu-1', '0000:85:00.0', devices.VGPU, 'VGPU', 8)]
        [f] = check('vgpu-indistinct', devices=gpus)
        self.assertEqual((audit.WARNING, 'host vgpu-1'),
                         (f.severity, f.subject))
        tagged = holders(CUSTOM_NVIDIA_35=[gpus[0].provider_uuid])
        self.assertEqual([], check('vgpu-indistinct', devices=gpus,
                                   holders=tagged))


class TestTwoOwners(testtools.TestCase):

    def test_nova_and_cyborg_at_one_address(self):
        found = [device(), device(rc='PGPU', owner=devices.CYBORG),
                 device(address='0000:82:00.0')]
        [f] = check('two-owners', devices=found)
        self.assertEqual((audit.ERROR, 'gpu-a30-1:0000:81:00.0'),
                         (f.severity, f.subject))


class TestRegistry(testtools.TestCase):

    def test_every_check_says_why(self):
        for c in audit.CHECKS.values():
            self.assertTrue(c.why and '\n' not in c.why, c.name)

    def test_unknown_check_names_the_known_ones(self):
        e = self.assertRaises(audit.UnknownCheck, audit.select, ['nope'])
        self.assertIn('leaked-allocation', str(e))
        self.assertEqual(['two-owners'], audit.select(['two-owners'] * 2))

    def test_errors_first_and_info_does_not_fail(self):
        found = audit.run(audit.Estate(devices=[
            device(consumers={'c': 1}),
            device('gpu-h100-1', rc=H100, reserved=1, one_time_use=True)]))
        self.assertEqual([audit.ERROR, audit.INFO],
                         [f.severity for f in found])
        self.assertEqual([found[0]], audit.failing(found))


def vf(address, gpu='0000:ca:00.0', vfs=8, **fields):
    """A labelled vGPU provider of one VF of an SR-IOV GPU."""
    return factories.device('vgpu-l4-1', address, 'CUSTOM_VGPU_L4',
                            devices.VGPU, 1, gpu_address=gpu,
                            gpu_source='label', gpu_vfs=vfs, labelled=True,
                            vgpu_type='L4-4Q', **fields)


class TestVgpuLabels(testtools.TestCase):

    def test_unlabelled_providers_counted_per_host_as_info(self):
        found = [device('vgpu-1', '0000:%s:00.0' % bus, devices.VGPU, 'VGPU',
                        16) for bus in ('84', '85')] + [vf('0000:ca:00.4')]
        [f] = check('vgpu-unlabelled', devices=found)
        self.assertEqual((audit.INFO, 'host vgpu-1'), (f.severity, f.subject))
        self.assertIn('2 vGPU provider(s) with no label', f.detail)
        self.assertIn('gpu host label', f.fix)

    def test_vfs_without_provider_on_their_gpu(self):
        six = [vf('0000:ca:0%d.%d' % divmod(4 + n, 8)) for n in range(6)]
        [f] = check('vgpu-vfs-without-provider', devices=six)
        self.assertEqual((audit.INFO, 'vgpu-l4-1:0000:ca:00.0'),
                         (f.severity, f.subject))
        self.assertIn('2 of the 8 VFs', f.detail)
        all_eight = six + [vf('0000:ca:01.2'), vf('0000:ca:01.3')]
        self.assertEqual([], check('vgpu-vfs-without-provider',
                                   devices=all_eight))


def node(name, *ids, traits=(), **fields):
    """A bare-metal node as model/baremetal.node_device makes it."""
    from gpuclient.model import baremetal

    return baremetal.node_device(dict({
        'uuid': 'u-' + name, 'name': name,
        'resource_class': 'baremetal.gpu', 'traits': list(traits),
        'maintenance': False, 'provision_state': 'available',
        'power_state': 'power off', 'instance_uuid': None}, **fields),
        {'plugin_data': {'pci_devices': [
            {'vendor_id': i[:4], 'product_id': i[5:], 'class': '030200'}
            for i in ids]}})


class TestBaremetal(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(factories.PciIds())

    def test_model_mismatch_only_for_a_model_the_node_lacks(self):
        h100 = ['10de:2330'] * 4
        nodes = [node('n1', *h100, traits=['CUSTOM_GPU_A100']),
                 node('n2', *h100, traits=['CUSTOM_GPU_H100']),
                 node('n3', '10de:20b0', traits=['CUSTOM_GPU_A100_80GB']),
                 node('n4', *h100, traits=['CUSTOM_GPU_FAST'])]
        [f] = check('baremetal-model-mismatch', devices=[], nodes=nodes)
        self.assertEqual((audit.WARNING, 'n1'), (f.severity, f.subject))
        self.assertIn('4 × H100', f.detail)

    def test_untagged_and_out_of_service(self):
        nodes = [node('n1', '10de:26b9'), node('cpu'),
                 node('n2', '10de:20b0', traits=['CUSTOM_GPU_A100'],
                      maintenance=True, maintenance_reason='RMA'),
                 node('n3', '10de:20b0', traits=['CUSTOM_GPU_A100'],
                      maintenance=True, instance_uuid='s1')]
        self.assertEqual(['n1'], [f.subject for f in check(
            'baremetal-untagged', devices=[], nodes=nodes)])
        [f] = check('baremetal-out-of-service', devices=[], nodes=nodes)
        self.assertEqual(('n2', audit.WARNING), (f.subject, f.severity))
        self.assertIn('maintenance: RMA', f.detail)
