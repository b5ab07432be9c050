"""openstack gpu metrics against the sandbox: Prometheus' own parser reads
it, its sums are `gpu device summary`'s, and --output replaces a file
whole or not at all."""
import os
import shutil
import tempfile
import threading

from prometheus_client import parser

from gpu_sandbox import client
from tests.functional import base


class TestMetrics(base.CapacityTestCase):

    def metrics(self, *args):
        code, out, err = self.run_openstack('gpu', 'metrics', *args)
        self.assertEqual(0, code, err)
        return out

    @staticmethod
    def samples(text):
        """{metric name: [sample]} as prometheus_client parses it."""
        return {family.name: family.samples for family in
                parser.text_string_to_metric_families(text)}

    def test_sums_equal_the_device_summary(self):
        flavor = self.create_flavor({'pci_passthrough:alias': 'a30:1'})
        self.boot(flavor)   # so that something is used
        found = self.samples(self.metrics('--nova-conf', self.nova_conf()))
        sums = {}
        for field in ('capacity', 'used', 'reserved', 'free'):
            for s in found['openstack_gpu_device_%s' % field]:
                key = (s.labels['model'] or s.labels['resource_class'],
                       s.labels['kind'], s.labels['vgpu_type'] or None)
                sums.setdefault(key, {'devices': 0}).setdefault(field, 0)
                sums[key][field] += s.value
                sums[key]['devices'] += field == 'capacity'
        summary = {(r['Model'], r['Kind'], r['vGPU Type']): {
            'devices': r['Devices'], 'capacity': r['Total'],
            'used': r['Used'], 'reserved': r['Reserved'], 'free': r['Free']}
            for r in self.gpu('device', 'summary')}
        self.assertEqual(summary, sums)
        self.assertEqual(1, sums['A30', 'passthrough', None]['used'])
        # an SR-IOV GPU is one series, its VFs summed
        self.assertEqual({'devices': 2, 'capacity': 16, 'used': 0,
                          'reserved': 0, 'free': 16},
                         sums['A40', 'vgpu', 'A40-2Q'])
        # per flavor capacity: what `gpu flavor capacity` says, by host
        by_host = self.gpu('flavor', 'capacity', flavor, '--by', 'host',
                           '--nova-conf', self.nova_conf())
        self.assertEqual(
            {(r['Host'], r['Servers']) for r in by_host},
            {(s.labels['host'], s.value) for s in
             found['openstack_gpu_flavor_capacity_servers']
             if s.labels['flavor'] == flavor})
        for name in found:
            self.assertTrue(name.startswith('openstack_gpu_'), name)

    def test_audit_findings_per_check(self):
        found = self.samples(self.metrics())
        checks = {s.labels['check'] for s in
                  found['openstack_gpu_audit_findings']}
        self.assertIn('leaked-allocation', checks)

    def test_output_is_replaced_whole_or_not_at_all(self):
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory)
        path = os.path.join(directory, 'gpu.prom')
        with open(path, 'w') as f:
            f.write('# old\n')
        seen, done = set(), threading.Event()

        def watch():   # what node_exporter could read meanwhile
            while not done.is_set():
                with open(path) as f:
                    seen.add(f.read())

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            self.assertEqual('', self.metrics('--output', path))
        finally:
            done.set()
            watcher.join()
        with open(path) as f:
            new = f.read()
        self.assertIn('openstack_gpu_device_free', new)
        self.assertEqual(set(), seen - {'# old\n', new})
        self.assertEqual(['gpu.prom'], os.listdir(directory))
        self.assertEqual('644', oct(os.stat(path).st_mode)[-3:])
        # a failed run leaves the file as it was, and no temporary file
        line = self.gpu_fails('metrics', '--output', path,
                              cloud=client.MEMBER_CLOUD)
        self.assertIn('403', line)
        with open(path) as f:
            self.assertEqual(new, f.read())
        self.assertEqual(['gpu.prom'], os.listdir(directory))

    def test_unwritable_output(self):
        with tempfile.NamedTemporaryFile() as not_a_dir:
            line = self.gpu_fails('metrics', '--output',
                                  os.path.join(not_a_dir.name, 'gpu.prom'))
        self.assertIn('cannot write', line)
