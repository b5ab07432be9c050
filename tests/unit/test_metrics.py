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
        self.assertTrue(queried)
        self.assertEqual(set(), queried - exported)


class TestSummary(testtools.TestCase):

    def test_one_line_for_every_unknown_flavor_and_none_without(self):
        from gpuclient.v1 import metrics as metrics_cmd

        line = metrics_cmd.summary({'gpu.b': None, 'gpu.a': None,
                                    'gpu.c': [], 'gpu.d': 'never schedules'})
        self.assertEqual(1, len(line.splitlines()))
        self.assertIn('2 flavor(s)', line)
        self.assertIn('gpu.a, gpu.b', line)
        self.assertIsNone(metrics_cmd.summary({'gpu.c': []}))
