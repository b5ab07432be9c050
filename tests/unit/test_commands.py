"""Every command's take_action, run as cliff runs it (parser, take_action,
output), over the in-memory cloud of tests/factories.py: what each
command reads, writes and prints. The same commands against the real
services are tests/functional's."""
import json
import os

from osc_lib import exceptions
import testtools

from gpuclient.v1 import allocation
from gpuclient.v1 import audit
from gpuclient.v1 import config
from gpuclient.v1 import device
from gpuclient.v1 import flavor
from gpuclient.v1 import metrics
from gpuclient.v1 import reserved
from gpuclient.v1 import trait
from tests import factories

A30 = 'CUSTOM_PCI_10DE_20B7'
H100 = 'CUSTOM_PCI_10DE_2330'
FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'fixtures')


def cloud():
    """gpu-a30-1 (hypervisor gpu-a30-1.example.org) with two A30s, one
    held by server s1; gpu-h100-1 with a released one-time-use H100;
    vgpu-1 with a vGPU GPU holding 2 of 16 for server s2."""
    c = factories.MemoryCloud()
    a30_root = c.compute_host('gpu-a30-1', 'gpu-a30-1.example.org')
    a30 = c.pci_gpu(a30_root, '0000:81:00.0')
    c.pci_gpu(a30_root, '0000:82:00.0')
    h100_root = c.compute_host('gpu-h100-1')
    h100 = c.pci_gpu(h100_root, '0000:c1:00.0', H100, one_time_use=True)
    c.placement.inventory[h100][H100]['reserved'] = 1
    vgpu_root = c.compute_host('vgpu-1')
    gpu = c.vgpu_gpu(vgpu_root, '0000:84:00.0')
    c.placement.allocate('s1', a30, **{A30: 1})
    c.placement.allocate('s2', gpu, VGPU=2)
    c.compute.flavor_list += [
        factories.flavor('gpu.a30', {'pci_passthrough:alias': 'a30:1'},
                         vcpus=4, ram=8192, disk=40, swap=0,
                         **{'OS-FLV-EXT-DATA:ephemeral': 0}),
        factories.flavor('gpu.vgpu', {'resources:VGPU': '2'}, vcpus=2,
                         ram=4096, disk=20, swap=0,
                         **{'OS-FLV-EXT-DATA:ephemeral': 0}),
        factories.flavor('m1.small', {}, vcpus=1, ram=512, disk=1)]
    c.compute.server_list += [
        factories.server('s1', {'pci_passthrough:alias': 'a30:1'},
                         host='gpu-a30-1', name='train-1',
                         tenant_id='p1',
                         flavor={'id': 'gpu.a30', 'original_name': 'gpu.a30',
                                 'extra_specs': {
                                     'pci_passthrough:alias': 'a30:1'}}),
        factories.server('s2', {'resources:VGPU': '2'}, host='vgpu-1',
                         name='desk-1', tenant_id='p1',
                         flavor={'id': 'gpu.vgpu',
                                 'original_name': 'gpu.vgpu',
                                 'extra_specs': {'resources:VGPU': '2'}})]
    c.compute.server_list[0]['OS-EXT-SRV-ATTR:hypervisor_hostname'] = (
        'gpu-a30-1.example.org')
    return c


class CommandTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(factories.PciIds())
        self.cloud = cloud()

    def run_command(self, cls, *argv):
        """(exit status, stdout, stderr), as cliff would end the command:
        a CommandError is its one line and exit 1."""
        app = factories.App(self.cloud)
        command = cls(app, None)
        parsed = command.get_parser('openstack gpu').parse_args(
            [str(a) for a in argv])
        try:
            code = command.run(parsed)
        except exceptions.CommandError as e:
            app.stderr.write('%s\n' % e)
            code = 1
        return code, app.stdout.getvalue(), app.stderr.getvalue()

    def json(self, cls, *argv, code=0):
        status, out, err = self.run_command(cls, *argv, '-f', 'json')
        self.assertEqual(code, status, err)
        return json.loads(out)


class TestDeviceCommands(CommandTestCase):

    def test_list_every_gpu_with_its_state_and_service_host(self):
        rows = self.json(device.ListDevice)
        self.assertEqual([
            ('gpu-a30-1', '0000:81:00.0', 'passthrough', 'in-use'),
            ('gpu-a30-1', '0000:82:00.0', 'passthrough', 'free'),
            ('gpu-h100-1', '0000:c1:00.0', 'passthrough', 'reserved'),
            ('vgpu-1', '0000:84:00.0', 'vgpu', 'partly-used')],
            [(r['Host'], r['Address'], r['Kind'], r['State'])
             for r in rows])

    def test_list_long_names_the_other_hypervisor_hostname(self):
        rows = self.json(device.ListDevice, '--long', '--host', 'gpu-a30-1')
        self.assertEqual(['gpu-a30-1.example.org'] * 2,
                         [r['Hypervisor'] for r in rows])
        self.assertEqual([['s1'], []], [r['Consumers'] for r in rows])

    def test_show_names_the_server_holding_it(self):
        shown = self.json(device.ShowDevice, 'gpu-a30-1:81:00.0')
        self.assertEqual('A30', shown['Model'])
        [consumer] = shown['Consumers']
        self.assertEqual(('train-1', 'ACTIVE', 'p1'), (
            consumer['server'], consumer['status'], consumer['project']))

    def test_summary_counts_per_model(self):
        rows = {r['Model']: r for r in self.json(device.DeviceSummary)}
        self.assertEqual((2, 1, 1), (rows['A30']['Devices'],
                                     rows['A30']['Used'],
                                     rows['A30']['Free']))

    def test_unknown_host_is_one_line(self):
        code, out, err = self.run_command(device.ListDevice, '--host', 'nope')
        self.assertEqual((1, ''), (code, out))
        self.assertIn("no compute host named 'nope'", err)


class TestFlavorCommands(CommandTestCase):

    def test_create_writes_the_alias_and_shows_the_request(self):
        shown = self.json(flavor.CreateFlavor, 'gpu.a30x2', '--vcpus', 8,
                          '--ram', 16384, '--disk', 80, '--alias', 'a30:2')
        created = {f['name']: f for f in self.cloud.compute.flavor_list}
        self.assertEqual({'pci_passthrough:alias': 'a30:2'},
                         created['gpu.a30x2']['extra_specs'])
        self.assertEqual(['2 × a30 (PCI passthrough)'], shown['GPU Request'])

    def test_create_refused_by_nova_leaves_no_flavor(self):
        def refuse(flavor_id, specs):
            raise factories.http.CloudError('Compute: bad spec (HTTP 400)',
                                            400)

        self.cloud.compute.set_extra_specs = refuse
        code, out, err = self.run_command(
            flavor.CreateFlavor, 'gpu.bad', '--vcpus', 1, '--ram', 512,
            '--disk', 1, '--vgpu', 1)
        self.assertEqual(1, code)
        self.assertIn('deleted again', err)
        self.assertNotIn('gpu.bad',
                         [f['name'] for f in self.cloud.compute.flavor_list])

    def test_more_devices_than_one_host_has_is_refused_before_a_write(self):
        code, out, err = self.run_command(
            flavor.CreateFlavor, 'gpu.a30x3', '--vcpus', 1, '--ram', 512,
            '--disk', 1, '--alias', 'a30:3')
        self.assertEqual(1, code)
        self.assertEqual(3, len(self.cloud.compute.flavor_list))

    def test_list_gpu_flavors_only(self):
        rows = self.json(flavor.ListFlavor)
        self.assertEqual(['gpu.a30', 'gpu.vgpu'], [r['Name'] for r in rows])

    def test_capacity_of_the_vgpu_flavor(self):
        rows = {r['Flavor']: r for r in self.json(
            flavor.FlavorCapacity, 'gpu.vgpu')}
        # 14 of 16 vGPUs left, 2 per server
        self.assertEqual(7, rows['gpu.vgpu']['Servers'])


class TestAllocationCommands(CommandTestCase):

    def test_show_checks_the_server_against_its_flavor(self):
        shown = self.json(allocation.ShowAllocation, 'train-1')
        [gpu] = shown['GPUs']
        self.assertEqual('0000:81:00.0', gpu['address'])
        self.assertEqual({'ok'}, {c['result'] for c in shown['Checks']},
                         shown['Checks'])

    def test_list_one_row_per_consumer_and_gpu(self):
        rows = self.json(allocation.ListAllocation)
        self.assertEqual([('s1', 'gpu-a30-1', 1), ('s2', 'vgpu-1', 2)],
                         sorted((r['Server'], r['Host'], r['Amount'])
                                for r in rows))


class TestWriteCommands(CommandTestCase):

    def test_reserved_reset_returns_the_released_gpu(self):
        rows = self.json(reserved.ResetReserved, '--all')
        self.assertEqual([(1, 0)], [(r['Reserved Before'],
                                     r['Reserved After']) for r in rows])
        uuid = 'rp-gpu-h100-1_0000:c1:00.0'
        self.assertEqual(0, self.cloud.placement.inventory[uuid][H100][
            'reserved'])

    def test_tag_and_untag_a_vgpu_gpu_keeping_other_traits(self):
        uuid = 'rp-vgpu-1_pci_0000_84_00_0'
        self.cloud.placement.create_trait('CUSTOM_OTHER')
        self.cloud.placement.has[uuid].add('CUSTOM_OTHER')
        self.json(trait.TagTrait, 'CUSTOM_NVIDIA_35', '--host', 'vgpu-1')
        self.assertEqual({'CUSTOM_NVIDIA_35', 'CUSTOM_OTHER'},
                         self.cloud.placement.has[uuid])
        self.json(trait.UntagTrait, 'CUSTOM_NVIDIA_35', '--host', 'vgpu-1')
        self.assertEqual({'CUSTOM_OTHER'}, self.cloud.placement.has[uuid])

    def test_tag_refuses_nova_managed_devices_before_writing(self):
        code, out, err = self.run_command(
            trait.TagTrait, 'CUSTOM_X', '--host', 'gpu-a30-1')
        self.assertEqual(1, code)
        self.assertNotIn('CUSTOM_X', self.cloud.placement.known_traits)


class TestAuditAndMetrics(CommandTestCase):

    def test_a_leak_is_found_with_its_fix_and_exits_1(self):
        leaked = 'rp-gpu-a30-1.example.org_0000:82:00.0'
        self.cloud.placement.allocate('gone', leaked, **{A30: 1})
        found = self.json(audit.Audit, '--check', 'leaked-allocation',
                          code=1)
        [leak] = found
        self.assertEqual('gpu-a30-1:0000:82:00.0', leak['subject'])
        self.assertIn('allocation delete gone', leak['fix'])

    def test_clean_is_0_and_one_line(self):
        code, out, err = self.run_command(
            audit.Audit, '--check', 'leaked-allocation', '-f', 'json')
        self.assertEqual((0, []), (code, json.loads(out)))
        self.assertIn('no problems found by 1 checks', err)

    def test_empty_host_is_usage(self):
        code, out, err = self.run_command(audit.Audit, '--host', '')
        self.assertEqual(audit.USAGE, code)
        self.assertEqual(1, len(err.splitlines()))

    def test_a_refusing_service_is_could_not_audit(self):
        def refuse(*args, **kwargs):
            raise factories.http.CloudError(
                'Placement refused the request (HTTP 403)', 403)

        self.cloud.placement.providers = refuse
        code, out, err = self.run_command(audit.Audit)
        self.assertEqual(audit.CANNOT_AUDIT, code)
        self.assertIn('could not audit: Placement refused', err)

    def test_metrics_expose_each_gpu(self):
        code, out, err = self.run_command(metrics.Metrics)
        self.assertEqual(0, code, err)
        free = [line for line in out.splitlines()
                if line.startswith('openstack_gpu_device_free{')]
        self.assertEqual(4, len(free), out)


class TestConfigCommands(CommandTestCase):

    def test_generate_then_check_is_clean(self):
        code, out, err = self.run_command(
            config.GenerateConfig, '--sysfs',
            os.path.join(FIXTURES, 'sysfs', 'passthrough'))
        self.assertEqual(0, code, err)
        self.assertIn('[pci]', out)

    def test_check_exits_1_on_an_error(self):
        code, out, err = self.run_command(
            config.CheckConfig, os.path.join(FIXTURES, 'nova',
                                             'malformed-json.conf'))
        self.assertEqual(1, code)
        self.assertIn('error', err)
