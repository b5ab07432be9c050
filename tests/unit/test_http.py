"""How cloud errors become one line, and every request its timeout."""
import io

from keystoneauth1 import exceptions as ks_exc
import testtools

from gpuclient.access import http
from tests.factories import ENDPOINT
from tests.factories import Response

PROXY_PAGE = """<!DOCTYPE html>
<html><head><title>503 Service Unavailable</title></head>
<body><h1>Service Unavailable</h1>
<p>No server is available to handle this request.</p>
</body></html>
"""


class Adapter:
    def __init__(self, response):
        self.response = response
        self.calls = []

    def get_endpoint(self):
        return ENDPOINT

    def request(self, path, method, **kwargs):
        self.calls.append((method, path, kwargs['microversion'],
                           kwargs['timeout']))
        if isinstance(self.response, BaseException):
            raise self.response
        return self.response


def call(status, body, name='placement', microversion='1.14', **kwargs):
    service = http.Service(Adapter(Response(status, body, **kwargs)), name)
    return service.request('GET', '/x', microversion)


def placement_error(status, detail, code=None):
    """The body Placement sends (webob + util.json_error_formatter)."""
    error = {'status': status, 'title': 'x', 'detail': detail}
    if code:
        error['code'] = code
    return {'errors': [error]}


class TestErrors(testtools.TestCase):

    def test_placement_conflict_keeps_its_code(self):
        e = self.assertRaises(http.Conflict, call, 409, placement_error(
            409, '409 Conflict\n\nresource provider generation conflict.',
            'placement.concurrent_update'))
        self.assertTrue(e.stale_generation)
        self.assertTrue(http.is_concurrent_update(e))
        self.assertEqual('Placement: resource provider generation conflict '
                         '(HTTP 409)', str(e))

    def test_other_conflicts_are_not_races(self):
        e = self.assertRaises(http.Conflict, call, 409, placement_error(
            409, '409 Conflict\n\nthe trait is in use.',
            'placement.trait.in_use'))
        self.assertFalse(http.is_concurrent_update(e))

    def test_placement_500_for_a_lost_race_is_a_concurrent_update(self):
        # Exactly what Placement 16's FaultWrapper sends for an uncaught
        # ResourceProviderConcurrentUpdateDetected (no code).
        e = self.assertRaises(http.CloudError, call, 500, placement_error(
            500, 'The server has either erred or is incapable of performing '
            'the requested operation.\n\n Another thread concurrently '
            'updated the resource provider data. Please retry your '
            'update  '))
        self.assertTrue(http.is_concurrent_update(e))

    def test_other_500s_are_not_retried(self):
        e = self.assertRaises(http.CloudError, call, 500, placement_error(
            500, 'The server has either erred or is incapable of performing '
            'the requested operation.\n\n (OperationalError) database is '
            'locked'))
        self.assertFalse(http.is_concurrent_update(e))
        self.assertFalse(http.is_concurrent_update(http.CloudError(
            'Nova: ' + http.CONCURRENT_UPDATE_500, 500)))

    def test_forbidden_names_the_role(self):
        e = self.assertRaises(http.CloudError, call, 403, placement_error(
            403, 'Policy does not allow x to be performed.'))
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

    def test_a_proxy_page_is_one_line_with_status_and_endpoint(self):
        e = self.assertRaises(http.CloudError, call, 503, PROXY_PAGE,
                              reason='Service Unavailable')
        self.assertEqual('Placement: 503 Service Unavailable (HTTP 503 from '
                         'GET %s/x)' % ENDPOINT, str(e))

    def test_a_page_without_title_gives_the_reason(self):
        # A web server's 404 means a wrong endpoint, not a missing record:
        # callers that read NotFound as "no such trait" must not see one.
        e = self.assertRaises(http.CloudError, call, 404,
                              '<html>\n<body>\nnope\n</body>\n</html>',
                              reason='Not Found')
        self.assertNotIsInstance(e, http.NotFound)
        self.assertEqual('Placement: Not Found (HTTP 404 from GET %s/x)'
                         % ENDPOINT, str(e))

    def test_a_short_plain_text_body_is_kept(self):
        e = self.assertRaises(http.CloudError, call, 502, 'upstream gone\n')
        self.assertIn('Placement: upstream gone (HTTP 502', str(e))

    def test_multiline_details_become_one_line(self):
        e = self.assertRaises(http.CloudError, call, 400, placement_error(
            400, '400 Bad Request\n\nJSON does not validate:\n  foo\n  bar'))
        self.assertNotIn('\n', str(e))

    def test_non_json_success_is_a_wrong_endpoint(self):
        e = self.assertRaises(http.CloudError, call, 200, PROXY_PAGE)
        self.assertIn('not JSON', str(e))
        self.assertIn('endpoint right?', str(e))
        self.assertNotIn('\n', str(e))

    def test_success_returns_the_body(self):
        self.assertEqual({'a': 1}, call(200, {'a': 1}))

    def test_no_answer_names_the_service_and_the_wait(self):
        adapter = Adapter(ks_exc.ConnectTimeout('Request to x timed out'))
        service = http.Service(adapter, 'placement', timeout=2)
        e = self.assertRaises(http.CloudError, service.get,
                              '/resource_providers', '1.14')
        self.assertEqual(
            'Placement did not answer GET %s/resource_providers within 2 s '
            '(set --os-api-timeout or api_timeout in clouds.yaml to wait '
            'longer)' % ENDPOINT, str(e))
        self.assertEqual(2, adapter.calls[0][3])

    def test_every_request_has_a_timeout(self):
        adapter = Adapter(Response(200, {}))
        http.Service(adapter, 'placement').get('/x', '1.14')
        self.assertEqual(http.DEFAULT_TIMEOUT, adapter.calls[0][3])


class TestShowsDebug(testtools.TestCase):
    """Whether anything prints keystoneauth's per-request DEBUG lines."""

    def setUp(self):
        super().setUp()
        import logging

        self.logging = logging
        self.parent = logging.getLogger('gpuclient-test-%s' % self.id())
        self.child = logging.getLogger(self.parent.name + '.child')
        self.parent.setLevel(logging.DEBUG)
        self.parent.propagate = False
        self.handler = logging.StreamHandler(io.StringIO())
        self.parent.addHandler(self.handler)
        self.addCleanup(self.parent.removeHandler, self.handler)

    def test_not_when_the_handlers_filter_debug(self):
        # OSC without --debug: everything enabled, the console at WARNING.
        self.handler.setLevel(self.logging.WARNING)
        self.assertFalse(http.shows_debug(self.child))

    def test_when_a_handler_takes_debug(self):
        # --debug, or a log file at debug level.
        self.handler.setLevel(self.logging.DEBUG)
        self.assertTrue(http.shows_debug(self.child))

    def test_not_when_the_logger_is_off_for_debug(self):
        self.handler.setLevel(self.logging.DEBUG)
        self.child.setLevel(self.logging.INFO)
        self.addCleanup(self.child.setLevel, self.logging.NOTSET)
        self.assertFalse(http.shows_debug(self.child))
