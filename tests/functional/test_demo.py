"""The demo's scenario (`make demo` runs `gpu-sandbox scenario`), built in
the tests' sandbox and taken away again: the three commands the demo
suggests show what it says they show."""
import json
import shlex

from gpu_sandbox import scenario
from tests.functional import base


class TestDemoScenario(base.SandboxTestCase):

    def setUp(self):
        super().setUp()
        self.addCleanup(self.take_away)

    def take_away(self):
        sandbox = self.sandbox()
        servers = sandbox.compute(
            'GET', '/servers?all_tenants=1').json()['servers']
        names = {name for name, _ in scenario.SERVERS} | {scenario.RELEASED[0]}
        for server in servers:
            if server['name'] in names:
                self.delete_server(server['id'])
        flavors = {name for name, _ in scenario.FLAVORS}
        for f in sandbox.compute('GET', '/flavors?is_public=None').json()[
                'flavors']:
            if f['name'] in flavors:
                sandbox.compute('DELETE', '/flavors/%s' % f['id'])
        prefix, rc = scenario.H100
        for address in ('0000:C1:00.0', '0000:C2:00.0'):
            self.set_reserved(prefix + address, rc, 0)

    def suggested(self, number):
        command, _ = scenario.TRY[number]
        words = shlex.split(command)
        self.assertEqual('openstack', words[0])
        return self.run_openstack(*words[1:], '-f', 'json')

    def test_the_scenario_and_the_commands_the_demo_suggests(self):
        # the scenario's third command shows the released one-time-use H100
        self.needs_one_time_use()
        lines = []
        scenario.build(self.sandbox(), say=lines.append)
        self.assertEqual(len(scenario.FLAVORS) + len(scenario.SERVERS) + 2,
                         len(lines), lines)
        # run again, it makes nothing
        again = []
        scenario.build(self.sandbox(), say=again.append)
        self.assertEqual([], again)

        states = {(d['Host'], d['State']) for d in self.gpu('device', 'list')}
        for shown in (('gpu-a30-1', 'in-use'), ('gpu-a100-1', 'in-use'),
                      ('gpu-sriov-1', 'partly-used'),
                      ('vgpu-1', 'partly-used'), ('vgpu-2', 'partly-used'),
                      ('gpu-h100-1', 'reserved')):
            self.assertIn(shown, states)

        code, out, err = self.suggested(0)   # allocation list
        self.assertEqual(0, code, err)
        held = {}
        for row in json.loads(out):
            held[row['Name']] = held.get(row['Name'], 0) + row['Amount']
        self.assertEqual({name: 2 if flavor == 'gpu.a100x2' else 1
                          for name, flavor in scenario.SERVERS}, held)

        code, out, err = self.suggested(1)   # flavor capacity
        self.assertEqual(0, code, err)
        fit = {r['Flavor']: r['Servers'] for r in json.loads(out)}
        self.assertEqual({name for name, _ in scenario.FLAVORS}, set(fit))
        # one A30 of two left, two A100s of four (one more 2-GPU server),
        # no H100: one in use, the other awaiting its scrub
        self.assertEqual((1, 1, 0), (fit['gpu.a30'], fit['gpu.a100x2'],
                                     fit['gpu.h100']))

        code, out, err = self.suggested(2)   # audit
        # info only: exit 0 (Nagios OK); with bare metal, the fleet's node
        # in maintenance is a warning (1)
        self.assertEqual(1 if 'baremetal' in self.sandbox().urls else 0,
                         code, err)
        [waiting] = [f for f in json.loads(out)
                     if f['check'] == 'scrub-waiting']
        self.assertEqual('host gpu-h100-1', waiting['subject'])
        self.assertIn('gpu reserved reset --host gpu-h100-1', waiting['fix'])


class TestEmptyListings(base.SandboxTestCase):
    """Nothing found is one line on stderr saying what was looked for,
    exit 0, and the format's own empty value on stdout."""

    def assertEmpty(self, args, line):
        for fmt, empty in (('json', '[]\n'), ('value', '')):
            code, out, err = self.run_openstack('gpu', *args, '-f', fmt)
            self.assertEqual((0, empty, line + '\n'), (code, out, err), args)

    def test_each_empty_listing_says_what_it_looked_for(self):
        self.assertEmpty(('device', 'list', '--host', 'gpu-a30-1', '--state',
                          'reserved'),
                         'no GPUs in Placement match --host gpu-a30-1 '
                         '--state reserved')
        self.assertEmpty(('allocation', 'list', '--host', 'gpu-rtx-1'),
                         'no GPUs allocated for --host gpu-rtx-1: servers get '
                         'them from GPU flavors (openstack gpu flavor list)')
        # the tests' sandbox has no GPU flavor but a test's own
        for args in (('flavor', 'list'), ('flavor', 'capacity')):
            self.assertEmpty(args, 'no GPU flavors: openstack gpu flavor '
                             'create --vcpus N --ram MB --disk GB --alias '
                             'ALIAS (or --vgpu N, or --baremetal CLASS) NAME '
                             'makes one')
