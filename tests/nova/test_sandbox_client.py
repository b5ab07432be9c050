"""Where a sandbox keeps its state, and how Nova's refusals are worded."""
import fixtures
import testtools

from gpu_sandbox import client


class TestDefaultStateDir(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.EnvironmentVariable('GPU_SANDBOX_STATE_DIR'))
        self.useFixture(fixtures.EnvironmentVariable('XDG_STATE_HOME',
                                                     '/home/u/.state'))

    def test_each_venv_has_its_own(self):
        self.assertEqual('/clone-a/.venv/var/gpu-sandbox',
                         client.default_state_dir('/clone-a/.venv', '/usr'))
        self.assertEqual('/clone-b/.venv/var/gpu-sandbox',
                         client.default_state_dir('/clone-b/.venv', '/usr'))

    def test_outside_a_venv_the_users_state_dir(self):
        self.assertEqual('/home/u/.state/gpu-sandbox',
                         client.default_state_dir('/usr', '/usr'))

    def test_the_variable_wins(self):
        self.useFixture(fixtures.EnvironmentVariable('GPU_SANDBOX_STATE_DIR',
                                                     '/tmp/s'))
        self.assertEqual('/tmp/s', client.default_state_dir('/clone-a/.venv',
                                                            '/usr'))


class FakeResponse:
    def __init__(self, status_code, body=None, text=''):
        self.status_code, self._body, self.text = status_code, body, text
        self.reason = 'Bad Request'

    def json(self):
        if self._body is None:
            raise ValueError('no JSON')
        return self._body


class TestNovaError(testtools.TestCase):

    def test_the_fault_message(self):
        self.assertEqual(
            'PCI alias nosuchalias is not defined (HTTP 400)',
            client.nova_error(FakeResponse(400, {'badRequest': {
                'message': 'PCI alias nosuchalias is not defined',
                'code': 400}})))

    def test_a_body_that_is_not_nova_json(self):
        self.assertEqual('<html>proxy</html> (HTTP 502)',
                         client.nova_error(FakeResponse(
                             502, text='<html>proxy</html>\n')))
        self.assertEqual('Bad Request (HTTP 400)',
                         client.nova_error(FakeResponse(400)))
