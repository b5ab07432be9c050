"""A cloud that fails in ways its API does not describe: an endpoint that
never answers, a proxy's HTML error page, Ctrl-C in the middle of a
listing; and what scripts read from -f value.

Keystone is the sandbox's; the Placement endpoint is overridden to a
socket server in the test, the way operators point OSC at a service.
"""
import http.server
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import fixtures
import yaml

from gpu_sandbox import client
from tests.functional import base

PROXY_PAGE = b"""<!DOCTYPE html>
<html><head><title>503 Service Unavailable</title></head>
<body><h1>Service Unavailable</h1>
<p>No server is available to handle this request.</p>
</body></html>
"""


class Silent:
    """Accepts connections and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(64)
        self.url = 'http://127.0.0.1:%d' % self.sock.getsockname()[1]
        self.accepted = threading.Event()
        self.held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            self.accepted.set()

    def close(self):
        self.sock.close()
        for conn in self.held:
            conn.close()


class ProxyPage(http.server.BaseHTTPRequestHandler):
    """A proxy with no backend: 503 and an HTML page for everything."""
    seen = []

    def do_GET(self):
        ProxyPage.seen.append(self.path)
        self.send_response(503)
        self.send_header('Content-Type', 'text/html')
        self.send_header('Content-Length', str(len(PROXY_PAGE)))
        self.end_headers()
        self.wfile.write(PROXY_PAGE)

    def log_message(self, *args):
        pass


class TestFailingEndpoints(base.SandboxTestCase):

    def silent(self):
        server = Silent()
        self.addCleanup(server.close)
        return server

    def proxy(self):
        server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), ProxyPage)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        ProxyPage.seen = []
        return 'http://127.0.0.1:%d' % server.server_address[1]

    def one_line_failure(self, *args):
        # "within 2 s" shows the timeout given was the one applied (the
        # default would say 60): no timed assertion needed.
        code, out, err = self.run_openstack(*args)
        self.assertEqual(1, code, out + err)
        self.assertNotIn('Traceback', err)
        lines = [line for line in err.splitlines() if line.strip()]
        self.assertEqual(1, len(lines), err)
        return lines[0]

    def test_an_endpoint_that_never_answers_times_out_in_one_line(self):
        server = self.silent()
        line = self.one_line_failure(
            '--os-api-timeout', '2', '--os-placement-endpoint-override',
            server.url, 'gpu', 'device', 'list')
        self.assertTrue(server.accepted.is_set())
        self.assertIn('Placement did not answer', line)
        self.assertIn(server.url, line)
        self.assertIn('within 2 s', line)

    def test_clouds_yaml_timeout_and_endpoint_override(self):
        server = self.silent()
        with open(self.sandbox().state.clouds_yaml) as f:
            clouds = yaml.safe_load(f)
        clouds['clouds'][client.ADMIN_CLOUD].update(
            api_timeout=2, placement_endpoint_override=server.url)
        path = self.useFixture(fixtures.TempDir()).join('clouds.yaml')
        with open(path, 'w') as f:
            yaml.safe_dump(clouds, f)
        self.useFixture(fixtures.EnvironmentVariable('OS_CLIENT_CONFIG_FILE',
                                                     path))
        line = self.one_line_failure('gpu', 'device', 'list')
        self.assertIn('Placement did not answer', line)
        self.assertIn('within 2 s', line)

    def test_a_proxy_error_page_is_one_line(self):
        url = self.proxy()
        self.useFixture(fixtures.EnvironmentVariable(
            'OS_PLACEMENT_ENDPOINT_OVERRIDE', url))
        line = self.one_line_failure('gpu', 'device', 'list')
        self.assertTrue(ProxyPage.seen, 'the override was not used')
        self.assertIn('503 Service Unavailable (HTTP 503 from GET %s/' % url,
                      line)
        self.assertNotIn('<', line)


class TestInterrupt(base.SandboxTestCase):

    def test_ctrl_c_during_a_listing_exits_130_in_one_line(self):
        server = Silent()
        self.addCleanup(server.close)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith('OS_')}
        env['OS_CLIENT_CONFIG_FILE'] = self.sandbox().state.clouds_yaml
        openstack = os.path.join(os.path.dirname(sys.executable), 'openstack')
        process = subprocess.Popen(
            [openstack, '--os-cloud', client.ADMIN_CLOUD,
             '--os-placement-endpoint-override', server.url,
             'gpu', 'device', 'list'],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
            # As at an operator's terminal: a runner that started us in the
            # background may have left SIGINT ignored, and Python then
            # installs no KeyboardInterrupt handler.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        self.addCleanup(lambda: process.poll() is None and process.kill())
        # The listing's requests are in flight once Placement has them.
        self.assertTrue(server.accepted.wait(60), 'no request came')
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=15)
        self.assertEqual(130, process.returncode, err)
        self.assertNotIn('Traceback', err)
        lines = [line for line in err.splitlines() if line.strip()]
        self.assertEqual(1, len(lines), err)
        self.assertIn('interrupted', lines[0])


class TestMachineFormats(base.SandboxTestCase):

    def test_value_format_has_no_python_reprs(self):
        code, out, err = self.run_openstack('gpu', 'device', 'list', '--long',
                                            '-f', 'value')
        self.assertEqual(0, code, err)
        self.assertTrue(out.strip())
        for token in ('[', '{', 'None'):
            self.assertNotIn(token, out)
        # Each device's traits: one comma-separated cell, as JSON shows them.
        rows = self.gpu('device', 'list', '--long')
        traits = {','.join(r['Traits']) for r in rows if r['Traits']}
        self.assertTrue(traits)
        for cell in traits:
            self.assertIn(cell, out)


class Relay(http.server.BaseHTTPRequestHandler):
    """Between the plugin and the sandbox's Placement: passes the first
    PASSED requests of each kind (path without ids) through, more than the
    plugin has threads, so that later ones take the plugin's fast path;
    then does `later` to the rest: 'hold' (never answer) or 'page' (a
    proxy's 503 page)."""
    PASSED = 10
    protocol_version = 'HTTP/1.1'
    target = later = None
    kinds: dict = {}
    release = threading.Event()

    def do_GET(self):
        kind = re.sub('[0-9a-f-]{36}', '{uuid}', self.path.split('?')[0])
        Relay.kinds[kind] = Relay.kinds.get(kind, 0) + 1
        if Relay.kinds[kind] <= Relay.PASSED:
            status, body = self.forward()
        elif Relay.later == 'hold':
            Relay.release.wait(60)
            return
        else:
            status, body = 503, PROXY_PAGE
        self.send_response(status)
        self.send_header('Content-Type', 'application/json' if status < 500
                         else 'text/html')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def forward(self):
        request = urllib.request.Request(Relay.target + self.path, headers={
            k: v for k, v in self.headers.items() if k.lower() in (
                'x-auth-token', 'openstack-api-version', 'accept')})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def log_message(self, *args):
        pass


class TestFailuresAfterTheFirstRequests(base.SandboxTestCase):
    """A Placement that fails once the listing is under way: the requests
    the plugin sends straight to the connection pool (after the first of
    each microversion) time out and map errors as the first ones do."""

    def relay(self, later):
        Relay.target = self.sandbox().urls['placement']
        Relay.later, Relay.kinds = later, {}
        Relay.release = threading.Event()
        server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Relay)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        self.addCleanup(lambda: Relay.release.set())
        return 'http://127.0.0.1:%d' % server.server_address[1]

    def fails(self, later, *args):
        url = self.relay(later)
        code, out, err = self.run_openstack(
            '--os-placement-endpoint-override', url, *args)
        self.assertEqual(1, code, out + err)
        self.assertNotIn('Traceback', err)
        lines = [line for line in err.splitlines() if line.strip()]
        self.assertEqual(1, len(lines), err)
        self.assertTrue(any(count > Relay.PASSED
                            for count in Relay.kinds.values()),
                        'no request got past the relay: %s' % Relay.kinds)
        return url, lines[0]

    def test_a_later_request_that_gets_no_answer_times_out(self):
        url, line = self.fails(
            'hold', '--os-api-timeout', '2', 'gpu', 'device', 'list')
        self.assertIn('Placement did not answer GET %s/' % url, line)
        self.assertIn('within 2 s', line)

    def test_a_later_error_page_is_one_line(self):
        url, line = self.fails('page', 'gpu', 'device', 'list')
        self.assertIn('503 Service Unavailable (HTTP 503 from GET %s/' % url,
                      line)
