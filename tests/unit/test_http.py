"""How cloud errors become one line."""
import json

import testtools

from gpuclient import http


class Response:
    def __init__(self, status, body):
        self.status_code = status
        self.text = body if isinstance(body, str) else json.dumps(body)
        self.content = self.text.encode()

    def json(self):
        return json.loads(self.text)


class Adapter:
    def __init__(self, response):
        self.response = response
        self.calls = []

    def request(self, path, method, **kwargs):
        self.calls.append((method, path, kwargs['microversion']))
        return self.response


def call(status, body, name='placement', microversion='1.14'):
    service = http.Service(Adapter(Response(status, body)), name)
    return service.request('GET', '/x', microversion)


class TestErrors(testtools.TestCase):

    def test_placement_conflict_keeps_its_code(self):
        e = self.assertRaises(http.Conflict, call, 409, {'errors': [{
            'status': 409, 'code': 'placement.concurrent_update',
            'detail': '409 Conflict\n\nresource provider generation '
                      'conflict.'}]})
        self.assertTrue(e.stale_generation)
        self.assertEqual('Placement: resource provider generation conflict '
                         '(HTTP 409)', str(e))

    def test_forbidden_names_the_role(self):
        e = self.assertRaises(http.CloudError, call, 403, {'errors': [{
            'detail': 'Policy does not allow x to be performed.'}]})
        self.assertIn('HTTP 403', str(e))
        self.assertIn('admin role', str(e))
        self.assertNotIn('\n', str(e))

    def test_too_old_cloud_names_the_release(self):
        e = self.assertRaises(http.CloudError, call, 406, {
            'computeFault': {'message': 'Version 2.86 is not supported by '
                                        'the API. Minimum is 2.1 and '
                                        'maximum is 2.79.'}},
            name='compute', microversion='2.86')
        self.assertIn('microversion 2.86 (OpenStack Ussuri or later)',
                      str(e))

    def test_nova_message(self):
        e = self.assertRaises(http.CloudError, call, 400, {
            'badRequest': {'message': 'Validation failed.'}}, name='compute')
        self.assertEqual('Compute: Validation failed (HTTP 400)', str(e))

    def test_not_found_and_plain_text(self):
        self.assertRaises(http.NotFound, call, 404, 'no such thing')

    def test_success_returns_the_body(self):
        self.assertEqual({'a': 1}, call(200, {'a': 1}))


class TestGather(testtools.TestCase):

    def test_keeps_order(self):
        self.assertEqual([x * 2 for x in range(50)],
                         http.gather(lambda x: x * 2, range(50)))
