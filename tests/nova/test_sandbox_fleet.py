"""The sandbox's fleet file: nova.conf values and what Nova must report."""
import json

import testtools

from gpu_sandbox import fleet


class TestDefaultFleet(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.fleet = fleet.load()

    def test_hosts_and_providers(self):
        self.assertEqual(['gpu-a30-1', 'gpu-a100-1', 'gpu-h100-1',
                          'gpu-rtx-1', 'vgpu-1', 'gpu-l40s-1', 'gpu-sriov-1',
                          'vgpu-2', 'vgpu-a40-1', 'vgpu-a10-1', 'vgpu-l4-1',
                          'vgpu-l40s-1', 'cyborg-1'],
                         [h.name for h in self.fleet.hosts])
        expected = self.fleet.expected_providers()
        # the seeds' 13 GPUs, 2 L40S, the NIC and the NVMe drive, one VF
        # pool, 2 custom-class vGPU GPUs, 2 Cyborg T4s, and a provider per
        # vGPU VF: 16 of 2 A40s, 6 + 3 of 2 A10s, 6 of an L4's 8 (its
        # max_instances), and a VF pool per variant-driver L40S
        self.assertEqual(22 + 16 + 9 + 6 + 2, len(expected))
        self.assertEqual('CUSTOM_VGPU_L40S_24Q',
                         expected['vgpu-l40s-1_0000:E1:00.0'])
        self.assertEqual('CUSTOM_VGPU_A40',
                         expected['vgpu-a40-1_pci_0000_61_01_3'])
        self.assertIn('vgpu-l4-1_pci_0000_ca_01_1', expected)
        self.assertNotIn('vgpu-l4-1_pci_0000_ca_01_2', expected)
        self.assertEqual('CUSTOM_PCI_10DE_20B7',
                         expected['gpu-a30-1_0000:81:00.0'])
        self.assertEqual('CUSTOM_A100', expected['gpu-a100-1_0000:2B:00.0'])
        self.assertEqual('VGPU', expected['vgpu-1_pci_0000_87_00_0'])
        self.assertEqual('CUSTOM_PCI_8086_1572', expected[
            'gpu-l40s-1.dc1.example.org_0000:3B:00.0'])
        self.assertEqual('CUSTOM_PCI_1002_686C',
                         expected['gpu-sriov-1_0000:4D:00.0'])
        self.assertEqual('CUSTOM_VGPU_A16',
                         expected['vgpu-2_pci_0000_3e_00_0'])
        self.assertEqual('PGPU', expected['cyborg-1_0000:af:00.0'])

    def test_service_host_and_hypervisor_hostname(self):
        host = self.fleet.host('gpu-l40s-1.dc1.example.org')
        self.assertEqual(('gpu-l40s-1', 'gpu-l40s-1.dc1.example.org'),
                         (host.name, host.hypervisor))
        self.assertEqual('vgpu-1', self.fleet.host('vgpu-1').hypervisor)

    def test_vf_pool_is_specified_by_its_vfs(self):
        [pf] = self.fleet.host('gpu-sriov-1').pci
        self.assertEqual(['0000:4d:00.1', '0000:4d:00.2', '0000:4d:00.3',
                          '0000:4d:00.4'], pf.vf_addresses())
        [spec] = self.fleet.host('gpu-sriov-1').device_spec()
        self.assertEqual({'vendor_id': '1002', 'product_id': '686c'},
                         json.loads(spec))

    def test_nova_conf_of_each_service(self):
        controller = self.fleet.controller_conf()
        self.assertTrue(controller['filter_scheduler']['pci_in_placement'])
        self.assertIn('PciPassthroughFilter',
                      controller['filter_scheduler']['enabled_filters'])
        vgpu2 = self.fleet.compute_conf(self.fleet.host('vgpu-2'))
        self.assertEqual(['nvidia-12'],
                         vgpu2['devices']['enabled_mdev_types'])
        self.assertEqual({'device_addresses': ['0000:3d:00.0',
                                               '0000:3e:00.0'],
                          'mdev_class': 'CUSTOM_VGPU_A16'},
                         vgpu2['mdev_nvidia-12'])
        text = fleet.render_conf(vgpu2)
        self.assertIn('[mdev_nvidia-12]\ndevice_addresses = 0000:3d:00.0,'
                      '0000:3e:00.0\nmdev_class = CUSTOM_VGPU_A16\n', text)
        self.assertIn('report_in_placement = true', text)
        self.assertNotIn('device_spec', text)  # vgpu-2 passes nothing through
        a30 = fleet.render_conf(self.fleet.compute_conf(
            self.fleet.host('gpu-a30-1')))
        self.assertEqual(1, a30.count('device_spec = '))
        self.assertEqual(10, a30.count('alias = '))  # one line per alias

    def test_legacy_fleet_has_no_pci_in_placement(self):
        legacy = fleet.load('legacy')
        self.assertEqual([h.name for h in self.fleet.hosts],
                         [h.name for h in legacy.hosts])
        self.assertFalse(legacy.controller_conf()['filter_scheduler'][
            'pci_in_placement'])
        self.assertFalse(legacy.compute_conf(legacy.hosts[0])['pci'][
            'report_in_placement'])
        # Nova refuses one_time_use without report_in_placement
        [spec] = legacy.compute_conf(legacy.host('gpu-h100-1'))['pci'][
            'device_spec']
        self.assertNotIn('one_time_use', json.loads(spec))
        # only what Nova's PCI tracker never writes there: vGPUs, Cyborg
        self.assertEqual({'VGPU', 'CUSTOM_VGPU_A16', 'CUSTOM_VGPU_A40',
                          'CUSTOM_VGPU_A10', 'CUSTOM_VGPU_L4', 'PGPU'},
                         set(legacy.expected_providers().values()))

    def test_cyborg_and_neutron(self):
        host = self.fleet.host('cyborg-1')
        self.assertEqual(['cyborg-1_0000:af:00.0', 'cyborg-1_0000:b0:00.0'],
                         [fleet.cyborg_name(host, d) for d in host.cyborg])
        [bridge] = self.fleet.bridges
        self.assertEqual(('br-ex', 'physnet1'), (bridge.name, bridge.physnet))

    def test_device_spec_is_one_entry_per_product_with_its_options(self):
        [spec] = self.fleet.host('gpu-a100-1').device_spec()
        self.assertEqual({'vendor_id': '10de', 'product_id': '20b0',
                          'resource_class': 'CUSTOM_A100',
                          'traits': 'CUSTOM_NVLINK'}, json.loads(spec))
        [spec] = self.fleet.host('gpu-h100-1').device_spec()
        self.assertEqual('true', json.loads(spec)['one_time_use'])
        self.assertEqual([], self.fleet.host('vgpu-1').device_spec())

    def test_aliases_are_written_as_given(self):
        aliases = [json.loads(a) for a in self.fleet.alias_config()]
        self.assertEqual(['a30', 'a100', 'h100', 'rtx3090', 'l40s', 'x710',
                          'nvme', 'mi25-vf', 'l40s-12q', 'l40s-24q'],
                         [a['name'] for a in aliases])
        self.assertEqual('CUSTOM_A100', aliases[1]['resource_class'])

    def test_vgpu_inventories_use_libvirt_names(self):
        self.assertEqual({'pci_0000_84_00_0': 16, 'pci_0000_85_00_0': 16,
                          'pci_0000_86_00_0': 16, 'pci_0000_87_00_0': 16},
                         self.fleet.host('vgpu-1').vgpu[0].inventories())

    def test_sriov_vgpu_gpus_have_a_parent_per_vf(self):
        a10_4q, a10_8q = self.fleet.host('vgpu-a10-1').vgpu
        self.assertEqual(['0000:17:00.4', '0000:17:00.5', '0000:17:00.6',
                          '0000:17:00.7', '0000:17:01.0', '0000:17:01.1'],
                         a10_4q.parents())
        conf = self.fleet.compute_conf(self.fleet.host('vgpu-a10-1'))
        self.assertEqual(['nvidia-592', 'nvidia-593'],
                         conf['devices']['enabled_mdev_types'])
        self.assertEqual(a10_8q.parents(),
                         conf['mdev_nvidia-593']['device_addresses'])
        l4 = self.fleet.compute_conf(self.fleet.host('vgpu-l4-1'))
        self.assertEqual(6, l4['mdev_nvidia-880']['max_instances'])

    def test_aliases_include_the_new_devices(self):
        aliases = {a['name']: a for a in self.fleet.aliases}
        self.assertEqual('type-VF', aliases['mi25-vf']['device_type'])
        self.assertEqual(('8086', '1572'), (aliases['x710']['vendor_id'],
                                            aliases['x710']['product_id']))
        self.assertIn('l40s', aliases)
        self.assertIn('nvme', aliases)


class TestBadFleet(testtools.TestCase):

    def assertRefused(self, data, message):
        e = self.assertRaises(fleet.FleetError, fleet.parse, data)
        self.assertIn(message, str(e))

    def device(self, **kw):
        d = {'address': '0000:81:00.0', 'vendor_id': '10de',
             'product_id': '20b7'}
        d.update(kw)
        return {'hosts': {'h1': {'pci': [d]}}}

    def test_refusals(self):
        self.assertRefused({}, 'needs a "hosts" mapping')
        self.assertRefused(self.device(address='81:00'), 'not a PCI address')
        self.assertRefused(self.device(vendor_id='nvda'), 'vendor_id')
        self.assertRefused(self.device(device_type='type-VF'), 'device_type')
        self.assertRefused(self.device(colour='green'), 'unknown keys')
        self.assertRefused(self.device(resource_class='a 100'),
                           'resource class')
        self.assertRefused({'hosts': {'H_1': {}}}, 'host name')
        self.assertRefused({'hosts': {'h1': {'vgpu': {'per_gpu': 0}}}},
                           'per_gpu')
        two = self.device()
        two['hosts']['h1']['pci'].append(dict(
            two['hosts']['h1']['pci'][0], address='0000:82:00.0',
            one_time_use=True))
        self.assertRefused(two, 'must share their device_spec options')
        self.assertRefused({'hosts': {'h1': {}}, 'colour': 1}, 'unknown keys')
        self.assertRefused({'hosts': {'h1': {'gpus': []}}}, 'unknown keys')
        self.assertRefused({'hosts': {'h1': {'hypervisor_hostname': 'A_B'}}},
                           'hypervisor_hostname')
        self.assertRefused({'hosts': {'h1': {}, 'h2': {
            'hypervisor_hostname': 'h1'}}}, 'share a name')
        self.assertRefused({'hosts': {}, 'pci_in_placement': 'no'},
                           'true or false')

    def test_vf_refusals(self):
        pf = dict(device_type='type-PF', vfs={'count': 4,
                                              'product_id': '686c'})
        self.assertRefused(self.device(vfs=pf['vfs']), 'only a type-PF')
        self.assertRefused(self.device(**dict(pf, vfs={'count': 8,
                                                       'product_id': '686c'})),
                           'vfs count')
        self.assertRefused(self.device(**dict(pf, vfs={'count': 2})),
                           'product_id')
        self.assertRefused(self.device(**dict(pf, one_time_use=True)),
                           'one_time_use on VFs')
        self.assertRefused(self.device(**dict(pf, address='0000:81:00.1')),
                           'function 0')
        vf_clash = self.device(**pf)
        vf_clash['hosts']['h1']['pci'].append({
            'address': '0000:81:00.2', 'vendor_id': '10de',
            'product_id': '20b7'})
        self.assertRefused(vf_clash, 'listed twice')

    def test_vgpu_and_cyborg_refusals(self):
        vgpu = {'per_gpu': 4, 'addresses': ['0000:84:00.0']}
        self.assertRefused({'hosts': {'h1': {'vgpu': dict(
            vgpu, mdev_class='a16')}}}, 'CUSTOM_NAME')
        self.assertRefused({'hosts': {'h1': {'vgpu': dict(
            vgpu, mdev_type='nvidia 12')}}}, 'mdev type name')
        self.assertRefused({'hosts': {'h1': {'vgpu': dict(
            vgpu, addresses=[])}}}, 'lists no GPU')
        self.assertRefused({'hosts': {'h1': {'cyborg': [
            {'address': '0000:af:00.0', 'vendor_id': 'nvda',
             'product_id': '1eb8'}]}}}, 'vendor_id')
        self.assertRefused({'hosts': {'h1': {}}, 'neutron': {'bridges': {
            'br-ex': {'physnet': 'p', 'egress_kbps': 0,
                      'ingress_kbps': 1}}}}, 'egress_kbps')
        self.assertRefused({'hosts': {'h1': {}}, 'neutron': {'bridges': {
            'br-ex': {'egress_kbps': 1, 'ingress_kbps': 1}}}}, 'physnet')

    def test_upper_case_input_is_normalised(self):
        f = fleet.parse(self.device(address='0000:C1:00.0', vendor_id='10DE'))
        self.assertEqual(('0000:c1:00.0', '10de'),
                         (f.hosts[0].pci[0].address,
                          f.hosts[0].pci[0].vendor_id))

    def test_rehearsal_rules(self):
        f = fleet.parse({'hosts': {'r1': {'sysfs': '/copy/sys'}},
                         'nova_conf': '/copy/nova.conf'})
        self.assertEqual(('/copy/sys', '/copy/nova.conf', {}),
                         (f.hosts[0].sysfs, f.nova_conf,
                          f.expected_providers()))
        self.assertRefused({'hosts': {'r1': {'sysfs': '/s'}}},
                           'needs nova_conf')
        self.assertRefused({'hosts': {'r1': {}}, 'nova_conf': '/n'},
                           'every host is read from sysfs')
        self.assertRefused({'hosts': {'r1': {'sysfs': '/s'}},
                            'nova_conf': '/n', 'aliases': [{'name': 'a'}]},
                           'come from that')
        self.assertRefused({'hosts': {'r1': {'sysfs': '/s', 'vgpu': {
            'per_gpu': 1, 'addresses': ['0000:84:00.0']}}},
            'nova_conf': '/n'}, 'no pci, vgpu or cyborg')

    def test_unreadable_file(self):
        e = self.assertRaises(fleet.FleetError, fleet.load, '/nonexistent')
        self.assertIn('cannot read fleet file', str(e))

    def test_unknown_builtin_name_is_read_as_a_file(self):
        e = self.assertRaises(fleet.FleetError, fleet.load, 'legcy')
        self.assertIn('cannot read fleet file legcy', str(e))


class TestBaremetalFleet(testtools.TestCase):
    """The fleet's baremetal: section (gpu_sandbox.baremetal)."""

    def setUp(self):
        super().setUp()
        self.nodes = {n.name: n for n in fleet.load().baremetal}

    def test_default_fleet_nodes(self):
        self.assertEqual(
            {'bm-h100-1': ('baremetal.gpu-h100', 'CUSTOM_BAREMETAL_GPU_H100',
                           ('CUSTOM_GPU_H100',), None, 'agent', 8),
             'bm-a100-1': ('baremetal.gpu-a100', 'CUSTOM_BAREMETAL_GPU_A100',
                           ('CUSTOM_GPU_A100',), None, 'agent', 4),
             'bm-cpu-1': ('baremetal.cpu', 'CUSTOM_BAREMETAL_CPU', (), None,
                          'agent', 1),
             'bm-l40s-1': ('baremetal.general', 'CUSTOM_BAREMETAL_GENERAL',
                           (), None, 'agent', 2),
             'bm-a100-2': ('baremetal.gpu-a100', 'CUSTOM_BAREMETAL_GPU_A100',
                           ('CUSTOM_GPU_A100',),
                           'GPU 1 uncorrectable ECC errors, RMA 4711',
                           'agent', 2),
             'bm-h100-2': ('baremetal.gpu-h100', 'CUSTOM_BAREMETAL_GPU_H100',
                           ('CUSTOM_GPU_H100',), None, 'redfish', 4)},
            {n.name: (n.resource_class, n.placement_class, n.traits,
                      n.maintenance, n.shape, len(n.pci_devices))
             for n in self.nodes.values()})
        self.assertEqual({('10de', '26b9')}, {
            (d['vendor_id'], d['product_id'])
            for d in self.nodes['bm-l40s-1'].devices()})
        self.assertEqual(
            {'cpus': 112, 'memory_mb': 2097152, 'local_gb': 3576,
             'cpu_arch': 'x86_64'}, dict(self.nodes['bm-h100-1'].properties))

    def test_uuids_and_macs_are_stable_and_distinct(self):
        again = {n.name: (n.uuid, n.mac) for n in fleet.load().baremetal}
        self.assertEqual({n.name: (n.uuid, n.mac)
                          for n in self.nodes.values()}, again)
        self.assertEqual(6, len({u for u, _ in again.values()}))
        self.assertEqual(6, len({m for _, m in again.values()}))

    def test_inspection_bodies_in_each_shape(self):
        agent = self.nodes['bm-h100-1'].inspection_body()
        self.assertEqual({'inventory', 'pci_devices'}, set(agent))
        self.assertEqual({'vendor_id': '10de', 'product_id': '2330',
                          'class': '030200', 'revision': 'a1',
                          'bus': '0000:18:00.0', 'numa_node_id': 0},
                         agent['pci_devices'][0])
        self.assertEqual(1, agent['pci_devices'][-1]['numa_node_id'])
        # what Ironic's default inspection hooks need (the spike)
        [interface] = agent['inventory']['interfaces']
        self.assertEqual(('eth0', self.nodes['bm-h100-1'].mac),
                         (interface['name'], interface['mac_address']))
        self.assertEqual('x86_64', agent['inventory']['cpu']['architecture'])
        self.assertNotIn('pci_devices', agent['inventory'])
        redfish = self.nodes['bm-h100-2'].inspection_body()
        self.assertEqual({'inventory'}, set(redfish))
        self.assertEqual(4, len(redfish['inventory']['pci_devices']))
        self.assertNotIn('bus', redfish['inventory']['pci_devices'][0])

    def test_legacy_fleet_keeps_them(self):
        self.assertEqual(list(self.nodes), [
            n.name for n in fleet.load('legacy').baremetal])

    def test_other_releases_leave_them_out(self):
        from gpu_sandbox import releases

        data, notes = fleet.for_release(fleet.read(),
                                        releases.get('2025.2'))
        self.assertNotIn('baremetal', data)
        self.assertIn('bare-metal nodes left out on 2025.2', notes[-1])
        data, notes = fleet.for_release(fleet.read(), releases.get(None))
        self.assertEqual(6, len(fleet.parse(data).baremetal))
        self.assertEqual([], notes)

    def test_a_fleet_without_them(self):
        self.assertEqual((), fleet.parse({'hosts': {'h1': {}}}).baremetal)


class TestBadBaremetalFleet(testtools.TestCase):

    def assertRefused(self, node, message, name='bm-1'):
        data = {'hosts': {'h1': {}}, 'baremetal': {name: node}}
        e = self.assertRaises(fleet.FleetError, fleet.parse, data)
        self.assertIn(message, str(e))

    def node(self, **kw):
        node = {'resource_class': 'baremetal.gpu-h100',
                'traits': ['CUSTOM_GPU_H100'],
                'properties': {'cpus': 8, 'memory_mb': 1024, 'local_gb': 10},
                'inspection': {'pci_devices': [self.agent()]}}
        node.update(kw)
        return node

    def agent(self, **kw):
        device = {'vendor_id': '10de', 'product_id': '2330',
                  'class': '030200', 'revision': 'a1',
                  'bus': '0000:18:00.0', 'numa_node_id': 0}
        device.update(kw)
        return device

    def test_a_good_node(self):
        [node] = fleet.parse({'hosts': {}, 'baremetal': {
            'bm-1': self.node(traits='custom_gpu_h100')}}).baremetal
        self.assertEqual(('CUSTOM_GPU_H100',), node.traits)

    def test_refusals(self):
        self.assertRefused(self.node(colour='green'), 'unknown keys')
        self.assertRefused(self.node(resource_class='a b'), 'resource_class')
        self.assertRefused(self.node(resource_class=None), 'resource_class')
        self.assertRefused(self.node(traits=['GPU_H100']), 'CUSTOM_NAME')
        self.assertRefused(self.node(properties={'cpus': 8}), 'memory_mb')
        self.assertRefused(self.node(properties={
            'cpus': 8, 'memory_mb': 1, 'local_gb': 1, 'gpus': 8}),
            'unknown keys')
        self.assertRefused(self.node(maintenance='broken'), '{reason: ...}')
        self.assertRefused(self.node(maintenance={'reason': ''}),
                           '{reason: ...}')
        self.assertRefused(self.node(), 'lower-case', name='BM_1')
        e = self.assertRaises(fleet.FleetError, fleet.parse,
                              {'hosts': {}, 'baremetal': ['bm-1']})
        self.assertIn('mapping of node names', str(e))

    def test_inspection_refusals(self):
        both = {'pci_devices': [], 'inventory': {'pci_devices': []}}
        self.assertRefused(self.node(inspection=both), 'one of them')
        self.assertRefused(self.node(inspection={}), 'one of them')
        self.assertRefused(self.node(inspection={'lldp': []}),
                           'unknown keys')
        self.assertRefused(self.node(inspection={'pci_devices': {}}),
                           'must be a list')
        # the agent's shape has no subsystem ids; Redfish's has no bus
        self.assertRefused(self.node(inspection={'pci_devices': [
            self.agent(subsystem_id='16c1')]}), 'unknown keys')
        self.assertRefused(self.node(inspection={'inventory': {
            'pci_devices': [self.agent()]}}), 'unknown keys')
        self.assertRefused(self.node(inspection={'inventory': {
            'pci_devices': [], 'cpu': {}}}), 'unknown keys')
        for bad, message in (({'vendor_id': '10d'}, '4 hex digits'),
                             ({'product_id': '0x2330'}, 'hex digits'),
                             ({'bus': '18:00.0'}, 'PCI address'),
                             ({'numa_node_id': -1}, 'numa_node_id'),
                             ({'numa_node_id': '0'}, 'numa_node_id')):
            self.assertRefused(self.node(inspection={'pci_devices': [
                self.agent(**bad)]}), message)
        missing = self.agent()
        del missing['class']
        self.assertRefused(self.node(inspection={'pci_devices': [missing]}),
                           'class is missing')
        self.assertRefused(self.node(inspection={'pci_devices': [
            self.agent(), self.agent()]}), 'listed twice')

    def test_no_baremetal_in_a_rehearsal(self):
        e = self.assertRaises(fleet.FleetError, fleet.parse, {
            'hosts': {'r1': {'sysfs': '/s'}}, 'nova_conf': '/n',
            'baremetal': {'bm-1': {}}})
        self.assertIn('a rehearsal has no baremetal nodes', str(e))


class TestVariantDriverFleet(testtools.TestCase):
    """vgpu-l40s-1: NVIDIA's kernel variant driver, VFs passed through."""

    def setUp(self):
        super().setUp()
        self.host = fleet.load().host('vgpu-l40s-1')

    def gpu(self, **vfs):
        d = {'address': '0000:a1:00.0', 'vendor_id': '10de',
             'product_id': '26b9', 'device_type': 'type-PF',
             'resource_class': 'CUSTOM_VGPU_L40S_12Q',
             'vfs': dict({'count': 8, 'product_id': '26b9',
                          'vgpu_type': 'L40S-12Q'}, **vfs)}
        return {'hosts': {'h1': {'pci': [d]}}}

    def test_one_device_spec_per_typed_vf_unmanaged(self):
        specs = [json.loads(s) for s in self.host.device_spec()]
        # the type fits 4 vGPUs on a 12Q GPU and 2 on a 24Q one
        self.assertEqual(['0000:a1:00.4', '0000:a1:00.5', '0000:a1:00.6',
                          '0000:a1:00.7', '0000:e1:00.4', '0000:e1:00.5'],
                         [s['address'] for s in specs])
        self.assertEqual({'no'}, {s['managed'] for s in specs})
        self.assertEqual({'CUSTOM_VGPU_L40S_12Q', 'CUSTOM_VGPU_L40S_24Q'},
                         {s['resource_class'] for s in specs})
        self.assertEqual({'26b9'}, {s['product_id'] for s in specs})

    def test_sysfs_shows_the_type_on_each_typed_vf(self):
        from gpu_sandbox import hardware

        functions = {f.address: f for f in
                     hardware.fleet_functions(self.host)}
        gpu = functions['0000:a1:00.0']
        self.assertEqual(8, len(gpu.virtfns))
        self.assertEqual(['NVIDIA L40S-8Q', 'NVIDIA L40S-12Q',
                          'NVIDIA L40S-24Q', 'NVIDIA L40S-48Q'],
                         [t.name for t in gpu.creatable_vgpu_types])
        typed = [a for a in gpu.virtfns
                 if functions[a].current_vgpu_type != '0']
        self.assertEqual(4, len(typed))
        self.assertEqual({'nvidia'}, {functions[a].driver
                                      for a in gpu.virtfns})
        # the GPU is full: its other VFs can make no vGPU
        self.assertEqual((), functions[gpu.virtfns[-1]].creatable_vgpu_types)

    def test_refusals(self):
        e = self.assertRaises(fleet.FleetError, fleet.parse,
                              self.gpu(vgpu_type='L40S-3Q'))
        self.assertIn('vgpu_type L40S-3Q is not one 10de:26b9 offers', str(e))
        data = self.gpu()
        del data['hosts']['h1']['pci'][0]['resource_class']
        e = self.assertRaises(fleet.FleetError, fleet.parse, data)
        self.assertIn('need a resource_class', str(e))

    def test_left_out_before_2025_1(self):
        from gpu_sandbox import releases

        data, notes = fleet.for_release(fleet.read(),
                                        releases.get('2024.1'))
        self.assertEqual([], [d for d in fleet.parse(data).host(
            'vgpu-l40s-1').pci])
        self.assertIn('variant-driver vGPUs left out on 2024.1 (Nova has '
                      'device_spec managed from 2025.1): vgpu-l40s-1',
                      ' '.join(notes))
        data, notes = fleet.for_release(fleet.read(),
                                        releases.get('2025.2'))
        self.assertEqual(2, len(fleet.parse(data).host('vgpu-l40s-1').pci))
