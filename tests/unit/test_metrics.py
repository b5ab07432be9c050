"""metrics: the registry as Prometheus' parser reads it, and the atomic
file write."""
import os
import shutil
import tempfile

from prometheus_client import parser
import testtools

from gpuclient.model import audit
from gpuclient.model import devices
from gpuclient.model import metrics
from gpuclient.operations import metrics as metrics_ops
from tests import factories


def gpu(address, used, total=1, reserved=0, kind=devices.PASSTHROUGH,
        rc='CUSTOM_PCI_10DE_20B7', model='A30', owner='nova'):
    return factories.device('gpu-a30-1', address, rc, kind, total, used,
                            reserved, uuid=address, pci_id=None, model=model,
                            free=total - used - reserved, inventory={},
                            owner=owner)


def parse(reg):
    return {f.name: f.samples for f in parser.text_string_to_metric_families(
        metrics.exposition(reg).decode())}


class TestRegistry(testtools.TestCase):

    def test_device_figures_and_labels(self):
        found = parse(metrics.registry(
            [gpu('0000:81:00.0', 1), gpu('0000:84:00.0', 3, total=16,
                                         kind=devices.VGPU, rc='VGPU',
                                         model=None, reserved=2)], []))
        free = {s.labels['address']: (s.value, s.labels['state'],
                                      s.labels['model'], s.labels['owner'])
                for s in found['openstack_gpu_device_free']}
        self.assertEqual({'0000:81:00.0': (0, 'in-use', 'A30', 'nova'),
                          '0000:84:00.0': (11, 'partly-used', '', 'nova')},
                         free)
        self.assertEqual([1, 16], sorted(
            s.value for s in found['openstack_gpu_device_capacity']))
        self.assertEqual(set(metrics.DEVICE_LABELS), set(
            found['openstack_gpu_device_used'][0].labels))

    def test_capacity_rows(self):
        rows = [{'flavor': 'gpu.a30', 'host': 'gpu-a30-1', 'servers': 2,
                 'limited_by': ['GPUs', 'VCPU']},
                {'flavor': 'gpu.a100', 'host': None, 'servers': None,
                 'limited_by': ['unknown alias class']}]
        found = parse(metrics.registry([], rows))
        [servers] = found['openstack_gpu_flavor_capacity_servers']
        self.assertEqual(({'flavor': 'gpu.a30', 'host': 'gpu-a30-1',
                           'limited_by': 'GPUs,VCPU'}, 2),
                         (servers.labels, servers.value))
        self.assertEqual({'gpu.a30': 1, 'gpu.a100': 0}, {
            s.labels['flavor']: s.value
            for s in found['openstack_gpu_flavor_capacity_known']})

    def test_audit_findings_count_per_check_with_zeros(self):
        findings = [audit.Finding(audit.ERROR, 'leaked-allocation', 's', 'd',
                                  'f')] * 2
        found = parse(metrics.registry([], [], findings, list(audit.CHECKS),
                                       audit.SEVERITIES))
        counts = {(s.labels['check'], s.labels['severity']): s.value
                  for s in found['openstack_gpu_audit_findings']}
        self.assertEqual(2, counts['leaked-allocation', 'error'])
        self.assertEqual(0, counts['two-owners', 'warning'])
        self.assertEqual(len(audit.CHECKS) * len(audit.SEVERITIES),
                         len(counts))

    def test_every_name_is_ours(self):
        names = parse(metrics.registry([gpu('0000:81:00.0', 0)], [], []))
        self.assertTrue(all(n.startswith('openstack_gpu_') for n in names))


class TestWrite(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)
        self.path = os.path.join(self.dir, 'gpu.prom')

    def test_replaces_the_file_readable_by_all(self):
        with open(self.path, 'w') as f:
            f.write('old\n')
        metrics.write(self.path, b'new\n')
        with open(self.path) as f:
            self.assertEqual('new\n', f.read())
        self.assertEqual(0o644, os.stat(self.path).st_mode & 0o777)
        self.assertEqual(['gpu.prom'], os.listdir(self.dir))

    def test_a_failed_write_leaves_the_old_file_and_no_temporary(self):
        with open(self.path, 'w') as f:
            f.write('old\n')
        self.assertRaises(TypeError, metrics.write, self.path, 'not bytes')
        with open(self.path) as f:
            self.assertEqual('old\n', f.read())
        self.assertEqual(['gpu.prom'], os.listdir(self.dir))

    def test_missing_directory(self):
        self.assertRaises(OSError, metrics.write,
                          os.path.join(self.dir, 'no', 'gpu.prom'), b'x')


class TestDashboard(testtools.TestCase):

    def test_every_metric_the_dashboard_queries_is_exported(self):
        import json
        import re

        path = os.path.join(os.path.dirname(__file__), '..', '..', 'doc',
                            'source', '_static', 'gpu-dashboard.json')
        with open(path) as f:
            dashboard = json.load(f)
        exprs = [t['expr'] for p in dashboard['panels']
                 for t in p['targets']]
        exprs += [v['query']['query'] for v in dashboard['templating']['list']
                  if isinstance(v.get('query'), dict)]
        queried = {n for e in exprs
                   for n in re.findall(r'openstack_gpu_\w+', e)}
        exported = set(parse(metrics.registry(
            [gpu('0000:81:00.0', 1)],
            [{'flavor': 'f', 'host': 'h', 'servers': 1,
              'limited_by': ['GPUs']}],
            [], list(audit.CHECKS), audit.SEVERITIES)))
        health = metrics.Health()
        health.succeeded(1.0, 0.0)   # the exporter's own, with --serve
        exported |= {f.name for f in metrics.health_families(health, 1.0)}
        self.assertTrue(queried)
        self.assertEqual(set(), queried - exported)


class TestSummary(testtools.TestCase):

    def test_one_line_for_every_unknown_flavor_and_none_without(self):
        line = metrics_ops.unknown_capacity({'gpu.b': None, 'gpu.a': None,
                                    'gpu.c': [], 'gpu.d': 'never schedules'})
        self.assertEqual(1, len(line.splitlines()))
        self.assertIn('2 flavor(s)', line)
        self.assertIn('gpu.a, gpu.b', line)
        self.assertIsNone(metrics_ops.unknown_capacity({'gpu.c': []}))


class TestConsumers(testtools.TestCase):

    def test_one_series_per_device_and_consumer(self):
        from gpuclient.model import allocations

        a30 = gpu('0000:81:00.0', 1)
        a30.consumers = {'s1': 1}
        vgpu = gpu('0000:84:00.0', 3, total=16, kind=devices.VGPU,
                   rc='VGPU', model=None)
        vgpu.consumers = {'s1': 1, 'leak': 2}
        rows = allocations.consumer_rows(
            [a30, vgpu], {'s1': factories.server('s1', tenant_id='p1')}, {})
        found = parse(metrics.registry([a30, vgpu], [], consumers=rows))
        self.assertEqual({
            ('0000:81:00.0', 'A30', 's1', 'p1'): 1,
            ('0000:84:00.0', '', 's1', 'p1'): 1,
            ('0000:84:00.0', '', 'leak', ''): 2}, {
            (s.labels['address'], s.labels['model'], s.labels['instance_id'],
             s.labels['project_id']): s.value
            for s in found['openstack_gpu_consumer_units']})
        self.assertEqual(set(metrics.CONSUMER_LABELS), set(
            found['openstack_gpu_consumer_units'][0].labels))


class TestExporter(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.logged = []
        self.answers = []
        self.exporter = metrics_ops.Exporter(self.answer, 60,
                                             self.logged.append)

    def answer(self):
        found = self.answers.pop(0)
        if isinstance(found, Exception):
            raise found
        return metrics.registry([gpu('0000:81:00.0', found)], []), None

    def scrape(self):
        return {f.name: f.samples for f in
                parser.text_string_to_metric_families(
                    self.exporter.exposition().decode())}

    def value(self, found, name, **labels):
        [sample] = [s for s in found[name]
                    if labels.items() <= s.labels.items()]
        return sample.value

    def test_before_the_first_refresh_only_counters(self):
        found = self.scrape()
        self.assertNotIn('openstack_gpu_exporter_up', found)
        self.assertNotIn('openstack_gpu_device_free', found)
        self.assertEqual(0, self.value(
            found, 'openstack_gpu_exporter_refresh_errors',
            service='placement'))

    def test_an_outage_keeps_the_last_good_data_marked_stale(self):
        down = factories.http.CloudError('cannot reach Placement: refused')
        down.service = 'placement'
        self.answers = [1, down, down, 0]
        self.assertTrue(self.exporter.refresh())
        found = self.scrape()
        self.assertEqual((1, 0, 1), (
            self.value(found, 'openstack_gpu_exporter_up'),
            self.value(found, 'openstack_gpu_exporter_stale'),
            self.value(found, 'openstack_gpu_device_used')))
        self.assertFalse(self.exporter.refresh())
        self.assertFalse(self.exporter.refresh())
        found = self.scrape()
        self.assertEqual((0, 1, 1, 2, 0), (
            self.value(found, 'openstack_gpu_exporter_up'),
            self.value(found, 'openstack_gpu_exporter_stale'),
            self.value(found, 'openstack_gpu_device_used'),   # last good
            self.value(found, 'openstack_gpu_exporter_refresh_errors',
                       service='placement'),
            self.value(found, 'openstack_gpu_exporter_refresh_errors',
                       service='compute')))
        self.assertTrue(self.exporter.refresh())
        found = self.scrape()
        self.assertEqual((1, 0, 0, 4), (  # the new read: nothing used
            self.value(found, 'openstack_gpu_exporter_up'),
            self.value(found, 'openstack_gpu_exporter_stale'),
            self.value(found, 'openstack_gpu_device_used'),
            self.value(found, 'openstack_gpu_exporter_refreshes')))
        # one line when it fails, not one per refresh; one when it recovers
        self.assertEqual(2, len(self.logged), self.logged)
        self.assertIn('cannot reach Placement', self.logged[0])
        self.assertIn('s ago', self.logged[0])
        self.assertEqual('refresh succeeded again', self.logged[1])

    def test_a_bug_is_counted_and_logged_not_raised(self):
        self.answers = [KeyError('host')]
        self.assertFalse(self.exporter.refresh())
        found = self.scrape()
        self.assertEqual(1, self.value(
            found, 'openstack_gpu_exporter_refresh_errors',
            service='exporter'))
        self.assertIn('KeyError', self.logged[0])
        self.assertIn('no successful refresh yet', self.logged[0])

    def test_data_age_counts_from_the_last_good_refresh(self):
        health = metrics.Health()
        health.succeeded(2.5, now=1000.0)
        health.failed('compute', 1.0)
        found = {f.name: f.samples[0].value
                 for f in metrics.health_families(health, now=1030.0)}
        self.assertEqual((30.0, 1.0, 1), (
            found['openstack_gpu_exporter_data_age_seconds'],
            found['openstack_gpu_exporter_refresh_duration_seconds'],
            found['openstack_gpu_exporter_stale']))


class TestServeAddress(testtools.TestCase):

    def test_forms(self):
        from gpuclient.v1 import metrics as metrics_cmd

        self.assertEqual(('127.0.0.1', 9187),
                         metrics_cmd.address_port('127.0.0.1:9187'))
        self.assertEqual(('::1', 9187), metrics_cmd.address_port('[::1]:9187'))
        self.assertEqual(('0.0.0.0', 9187), metrics_cmd.address_port(':9187'))
        for bad in ('9187', 'host:', 'host:0', 'host:70000', '::1:9187',
                    'host:http'):
            self.assertRaises(factories.http.osc_exc.CommandError,
                              metrics_cmd.address_port, bad)
