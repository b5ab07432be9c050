"""The metrics in the tools operators use: Debian's Prometheus scrapes
`gpu metrics --serve` and, through Debian's node_exporter textfile
collector, the textfile; its answers are `gpu device summary`'s and `gpu
flavor capacity`'s; every query of the shipped dashboard returns data;
the shipped alert rules pass promtool and fire on a planted leak. The
exporter survives a Placement outage and stops on SIGTERM.

The binaries come from tools/install-prometheus.sh (make test runs it);
without them these tests skip, saying so.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid

import yaml

from gpu_sandbox import client
from tests.functional import base

ROOT = os.path.join(os.path.dirname(__file__), '..', '..')
BIN = os.path.join(ROOT, '.venv', 'prometheus', 'bin')
STATIC = os.path.join(ROOT, 'doc', 'source', '_static')
RULES = os.path.join(STATIC, 'gpu-alerts.yml')
DASHBOARD = os.path.join(STATIC, 'gpu-dashboard.json')
RULE_TESTS = os.path.join(ROOT, 'tests', 'prometheus', 'gpu-alerts-test.yml')
A30 = 'CUSTOM_PCI_10DE_20B7'
EXPORTER_JOB, NODE_JOB = 'gpu-exporter', 'node'
# Seconds a wait for Prometheus (scrape and rule evaluation every second)
# or the exporter (refresh every second) may take before the test fails.
WAIT = 90


def tool(name):
    found = os.path.join(BIN, name)
    return found if os.access(found, os.X_OK) else shutil.which(name)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


def wait_for(what, check, timeout=WAIT):
    """check()'s first true value, polled; fails naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError('timed out after %ds waiting for %s'
                                 % (timeout, what))
        time.sleep(0.5)


def samples(text, name):
    """{labels: value} of one metric in the text format."""
    from prometheus_client import parser

    return {tuple(sorted(s.labels.items())): s.value
            for f in parser.text_string_to_metric_families(text)
            for s in f.samples if s.name == name}


class Relay:
    """A TCP relay in front of the real Placement, which the test can make
    drop every connection (Placement down, as a dead load balancer does),
    hold them unanswered (a hung Placement), or pass them on again."""
    PASS, DROP, HOLD = 'pass', 'drop', 'hold'

    def __init__(self, target):
        self.target = target
        self.mode = self.PASS
        self.server = socket.create_server(('127.0.0.1', 0))
        self.port = self.server.getsockname()[1]
        self.open = []
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            if self.mode == self.DROP:
                conn.close()
                continue
            if self.mode == self.HOLD:
                with self.lock:
                    self.open.append(conn)
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.open += [conn, upstream]
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self.pipe, args=(a, b),
                                 daemon=True).start()

    @staticmethod
    def pipe(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def switch(self, mode):
        """From now on `mode`; the connections kept alive are cut."""
        self.mode = mode
        with self.lock:
            for s in self.open:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.open = []

    def close(self):
        self.switch(self.DROP)
        self.server.close()


class PrometheusTestCase(base.CapacityTestCase):

    def setUp(self):
        super().setUp()
        missing = [n for n in ('prometheus', 'promtool',
                               'prometheus-node-exporter') if not tool(n)]
        if missing:
            self.skipTest('no %s: make test installs Debian\'s (tools/'
                          'install-prometheus.sh)' % ', '.join(missing))
        self.dir = tempfile.mkdtemp(prefix='gpu-prometheus-')
        self.addCleanup(shutil.rmtree, self.dir, True)

    def start(self, name, argv, env=None):
        log = open(os.path.join(self.dir, name + '.log'), 'w+')
        self.addCleanup(log.close)
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                env=env, cwd=self.dir)

        def stop():
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.addCleanup(stop)
        return proc, log

    def log_of(self, name):
        with open(os.path.join(self.dir, name + '.log')) as f:
            return f.read()

    def exporter(self, *args, interval=1):
        """`openstack gpu metrics --serve` as a program: (process, its
        /metrics URL)."""
        port = free_port()
        env = dict(os.environ, OS_CLOUD=client.ADMIN_CLOUD,
                   OS_CLIENT_CONFIG_FILE=self.sandbox().state.clouds_yaml)
        proc, _ = self.start('exporter', [
            base.OPENSTACK, 'gpu', 'metrics', '--serve', '127.0.0.1:%d' % port,
            '--interval', str(interval), '--nova-conf', self.nova_conf(),
            *args], env=env)
        url = 'http://127.0.0.1:%d/metrics' % port

        def refreshed():
            if proc.poll() is not None:
                self.fail('the exporter exited %d: %s' % (
                    proc.returncode, self.log_of('exporter')))
            try:
                return 'openstack_gpu_exporter_up 1.0' in get(url)
            except OSError:
                return False
        wait_for('the exporter\'s first refresh', refreshed)
        return proc, url

    def textfile(self):
        """The textfile written once by `gpu metrics --output`, and
        node_exporter reading it: its address."""
        directory = os.path.join(self.dir, 'textfile')
        os.mkdir(directory)
        code, out, err = self.run_openstack(
            'gpu', 'metrics', '--nova-conf', self.nova_conf(), '--output',
            os.path.join(directory, 'openstack_gpu.prom'))
        self.assertEqual(0, code, err)
        port = free_port()
        self.start('node-exporter', [
            tool('prometheus-node-exporter'), '--web.listen-address',
            '127.0.0.1:%d' % port, '--collector.disable-defaults',
            '--collector.textfile',
            '--collector.textfile.directory', directory])
        return '127.0.0.1:%d' % port

    def prometheus(self, targets, rules=None):
        """Prometheus scraping each job's target every second (evaluating
        `rules` as often); its HTTP API address."""
        config = {
            'global': {'scrape_interval': '1s', 'evaluation_interval': '1s'},
            'scrape_configs': [{'job_name': job, 'static_configs': [
                {'targets': [target]}]} for job, target in targets.items()]}
        if rules:
            config['rule_files'] = [rules]
        path = os.path.join(self.dir, 'prometheus.yml')
        with open(path, 'w') as f:
            yaml.safe_dump(config, f)
        port = free_port()
        proc, _ = self.start('prometheus', [
            tool('prometheus'), '--config.file', path, '--storage.tsdb.path',
            os.path.join(self.dir, 'data'), '--web.listen-address',
            '127.0.0.1:%d' % port])
        api = 'http://127.0.0.1:%d/api/v1/' % port

        def scraped():
            if proc.poll() is not None:
                self.fail('prometheus exited: %s' % self.log_of('prometheus'))
            try:
                found = json.loads(get(api + 'targets'))['data']
            except OSError:
                return False
            health = {t['labels']['job']: t['health']
                      for t in found['activeTargets']}
            return health == {job: 'up' for job in targets}
        wait_for('Prometheus to scrape %s' % ', '.join(targets), scraped)
        return api

    @staticmethod
    def query(api, expr):
        """The result vector of an instant query: [(labels, value)]."""
        answer = json.loads(get(api + 'query?' + urllib.parse.urlencode(
            {'query': expr})))
        assert answer['status'] == 'success', answer
        result = answer['data']['result']
        if answer['data']['resultType'] == 'scalar':
            return [({}, float(result[1]))]
        return [(r['metric'], float(r['value'][1])) for r in result]

    def plant_leak(self, provider_name):
        """An allocation of the device's one unit to a consumer Nova has no
        server for: audit's leaked-allocation. Returns a function that
        removes it (also run at cleanup, once)."""
        consumer = str(uuid.uuid4())
        uuid_ = self.provider(provider_name)['uuid']
        [rc] = self.placement('GET', '/resource_providers/%s/inventories'
                              % uuid_)['inventories']
        session = self.sandbox().session()
        self.placement('PUT', '/allocations/%s' % consumer, '1.28', json={
            'allocations': {uuid_: {'resources': {rc: 1}}},
            'project_id': session.get_project_id(),
            'user_id': session.get_user_id(), 'consumer_generation': None})
        planted = [True]

        def remove():
            if planted.pop() if planted else False:
                self.placement('DELETE', '/allocations/%s' % consumer)
        self.addCleanup(remove)
        return consumer, remove

    def summary_free(self, kind):
        return sum(r['Free'] for r in self.gpu('device', 'summary')
                   if r['Kind'] == kind)


class TestRules(PrometheusTestCase):

    def test_promtool_checks_and_tests_the_shipped_rules(self):
        for argv in (['check', 'rules', RULES], ['test', 'rules', RULE_TESTS]):
            done = subprocess.run([tool('promtool'), *argv],
                                  capture_output=True, text=True, timeout=120)
            self.assertEqual(0, done.returncode, done.stdout + done.stderr)
            self.assertIn('SUCCESS', done.stdout)

    def test_promtool_catches_a_rule_that_is_wrong(self):
        # the unit tests hold: a leak rule without its 15 minutes fails them
        with open(RULES) as f:
            hasty = f.read().replace('for: 15m', 'for: 1m', 1)
        rules = os.path.join(self.dir, 'gpu-alerts.yml')
        with open(rules, 'w') as f:
            f.write(hasty)
        with open(RULE_TESTS) as f:
            tests = yaml.safe_load(f)
        tests['rule_files'] = [rules]
        path = os.path.join(self.dir, 'test.yml')
        with open(path, 'w') as f:
            yaml.safe_dump(tests, f)
        done = subprocess.run([tool('promtool'), 'test', 'rules', path],
                              capture_output=True, text=True, timeout=120)
        self.assertEqual(1, done.returncode, done.stdout)
        self.assertIn('GPUAllocationLeaked', done.stdout + done.stderr)


class TestScraped(PrometheusTestCase):

    def test_both_paths_answer_the_summary_and_the_dashboard(self):
        flavor = self.create_flavor({'pci_passthrough:alias': 'a30:1'})
        server = self.boot(flavor)
        # so that the audit panels have a finding to show
        self.plant_leak('gpu-a100-1_0000:25:00.0')
        proc, url = self.exporter()
        node = self.textfile()
        api = self.prometheus({
            EXPORTER_JOB: urllib.parse.urlsplit(url).netloc, NODE_JOB: node})
        free_a30 = sum(r['Free'] for r in self.gpu('device', 'summary')
                       if r['Model'] == 'A30')
        fits = sum(r['Servers'] for r in self.gpu(
            'flavor', 'capacity', flavor, '--by', 'host', '--nova-conf',
            self.nova_conf()))
        with open(DASHBOARD) as f:
            dashboard = json.load(f)
        exprs = {p['title']: t['expr'] for p in dashboard['panels']
                 for t in p['targets']}
        variables = [v['query']['query'] for v in dashboard['templating'][
            'list'] if isinstance(v.get('query'), dict)]
        wanted = {
            'Free passthrough GPUs': self.summary_free('passthrough'),
            'Free vGPUs': self.summary_free('vgpu'),
            'GPUs out of service': sum(
                r['Reserved'] for r in self.gpu('device', 'summary')),
        }
        for job in (EXPORTER_JOB, NODE_JOB):
            def ask(expr):
                return self.query(api, expr.replace('$job', job).replace(
                    '$host', '.*').replace('$model', '.*'))

            # the figure `gpu device summary` prints, by PromQL
            wait_for('free A30s from %s' % job, lambda: ask(
                'sum(openstack_gpu_device_free{job="$job", model="A30"})'))
            self.assertEqual([({}, free_a30)], ask(
                'sum(openstack_gpu_device_free{job="$job", model="A30"})'))
            for title, expr in exprs.items():
                self.assertTrue(ask(expr), 'dashboard panel %r: no data '
                                'from %s for %s' % (title, job, expr))
            for variable in variables:   # label_values(METRIC, LABEL)
                metric, label = re.fullmatch(
                    r'label_values\((.*), (\w+)\)', variable).groups()
                found = json.loads(get(api + 'label/%s/values?' % label
                                       + urllib.parse.urlencode({
                                           'match[]': metric.replace(
                                               '$job', job)})))['data']
                self.assertTrue(found, variable)
            for title, value in wanted.items():
                self.assertEqual([value], [v for _, v in ask(exprs[title])],
                                 title)
            per_flavor = {labels['flavor']: value for labels, value in ask(
                exprs['More servers that fit, per flavor'])}
            self.assertEqual(fits, per_flavor[flavor])
            # the server's GPU, with its project, for a join with Nova's SD
            held = ask('openstack_gpu_consumer_units{job="$job", '
                       'instance_id="%s"}' % server['id'])
            self.assertEqual(1, len(held), held)
            labels, value = held[0]
            self.assertEqual((1, server['tenant_id'], 'gpu-a30-1', 'A30'), (
                value, labels['project_id'], labels['host'], labels['model']))
        self.assertEqual([1.0], [v for _, v in self.query(
            api, 'openstack_gpu_exporter_up{job="%s"}' % EXPORTER_JOB)])

    def test_an_alert_fires_on_a_planted_leak_and_clears(self):
        # The shipped rules with every `for:` at 0s: promtool's tests
        # prove the waits; here Prometheus proves the expressions on the
        # real series.
        with open(RULES) as f:
            rules = re.sub(r'for: \w+', 'for: 0s', f.read())
        path = os.path.join(self.dir, 'rules.yml')
        with open(path, 'w') as f:
            f.write(rules)
        proc, url = self.exporter()
        api = self.prometheus({EXPORTER_JOB: urllib.parse.urlsplit(
            url).netloc}, rules=path)

        def firing():
            return [labels for labels, _ in self.query(
                api, 'ALERTS{alertname="GPUAllocationLeaked", '
                'alertstate="firing"}')]
        self.assertEqual([], firing())
        consumer, remove = self.plant_leak('gpu-a30-1_0000:81:00.0')
        [labels] = wait_for('the leak alert to fire', firing)
        self.assertEqual(('critical', EXPORTER_JOB),
                         (labels['severity'], labels['job']))
        # the leaked consumer's unit, with no project
        [(held, value)] = self.query(
            api, 'openstack_gpu_consumer_units{instance_id="%s"}' % consumer)
        self.assertEqual((1, ''), (value, held.get('project_id', '')))
        remove()
        wait_for('the leak alert to clear', lambda: not firing())


class TestExporterLife(PrometheusTestCase):

    def exporter_behind_relay(self):
        target = urllib.parse.urlsplit(self.sandbox().urls['placement'])
        relay = Relay((target.hostname, target.port))
        self.addCleanup(relay.close)
        endpoint = target._replace(netloc='127.0.0.1:%d' % relay.port)
        proc, url = self.exporter(
            '--os-placement-endpoint-override', endpoint.geturl(),
            '--os-api-timeout', '30')
        return relay, proc, url

    def test_outage_serves_last_data_marked_stale_then_recovers(self):
        relay, proc, url = self.exporter_behind_relay()
        before = get(url)
        devices = samples(before, 'openstack_gpu_device_free')
        self.assertTrue(devices)
        relay.switch(relay.DROP)
        stale = wait_for('the exporter to mark its data stale', lambda: (
            lambda text: text if samples(text, 'openstack_gpu_exporter_stale')
            == {(): 1.0} else None)(get(url)))
        # the last good figures, still there, and the failure counted
        self.assertEqual(devices, samples(stale, 'openstack_gpu_device_free'))
        self.assertEqual({(): 0.0},
                         samples(stale, 'openstack_gpu_exporter_up'))
        errors = samples(stale, 'openstack_gpu_exporter_refresh_errors_total')
        self.assertGreaterEqual(errors[(('service', 'placement'),)], 1)
        self.assertEqual(0, errors[(('service', 'compute'),)])
        relay.switch(relay.PASS)
        wait_for('the exporter to recover', lambda: samples(
            get(url), 'openstack_gpu_exporter_up') == {(): 1.0})
        self.assertEqual(None, proc.poll())
        log = self.log_of('exporter')
        self.assertEqual(1, log.count('cannot reach Placement'), log)
        self.assertIn('refresh succeeded again', log)
        self.assertNotIn('Traceback', log)

    def test_sigterm_stops_it_during_a_refresh_that_waits(self):
        relay, proc, url = self.exporter_behind_relay()
        # Placement now takes connections and never answers: a refresh
        # waits for the 30 s request timeout.
        relay.switch(relay.HOLD)
        wait_for('a refresh to wait on Placement', lambda: relay.open)
        proc.send_signal(signal.SIGTERM)
        # Well under the 30 s the refresh waits: it does not wait for it.
        self.assertEqual(0, proc.wait(10), self.log_of('exporter'))
        self.assertNotIn('Traceback', self.log_of('exporter'))

    def test_a_port_in_use_is_one_line(self):
        with socket.create_server(('127.0.0.1', 0)) as taken:
            port = taken.getsockname()[1]
            line = self.gpu_fails('metrics', '--serve', '127.0.0.1:%d' % port)
        self.assertIn('cannot serve on 127.0.0.1:%d' % port, line)
        self.assertIn('in use', line)
