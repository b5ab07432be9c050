"""Nova access: every flavor call at 2.86 or later, listings read whole."""
import testtools

from gpuclient.access import compute
from gpuclient.access import http
from tests.factories import Response


class Nova:
    """An adapter answering from a list of (status, body), recording each
    request as (method, path, microversion, params)."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = []

    def get_endpoint(self):
        return 'http://nova.example.org/compute/v2.1'

    def request(self, path, method, **kwargs):
        self.calls.append((method, path, kwargs['microversion'],
                           dict(kwargs.get('params') or {})))
        return Response(*self.answers.pop(0))


def client(*answers):
    nova = Nova(*answers)
    return compute.Compute(http.Service(nova, 'compute')), nova


def page(ids, full):
    body = {'flavors': [{'id': i, 'name': 'f%s' % i} for i in ids]}
    if full:
        body['flavors_links'] = [{'rel': 'next', 'href': 'x'}]
    return 200, body


class TestFlavors(testtools.TestCase):

    def test_every_flavor_call_sends_2_86(self):
        nova, adapter = client(page(['1'], False), (200, {'flavor': {
            'id': 'f 1'}}), (200, {'extra_specs': {'a': 'b'}}), (200, {}),
            (202, ''))
        nova.flavors()
        nova.create_flavor({'name': 'x'})
        self.assertEqual({'a': 'b'}, nova.set_extra_specs('f 1', {'a': 'b'}))
        nova.add_flavor_access('f 1', 'p')
        nova.delete_flavor('f 1')
        self.assertEqual({'2.86'}, {c[2] for c in adapter.calls})
        self.assertEqual(['/flavors/detail', '/flavors',
                          '/flavors/f%201/os-extra_specs',
                          '/flavors/f%201/action', '/flavors/f%201'],
                         [c[1] for c in adapter.calls])

    def test_list_reads_every_page_public_and_private(self):
        nova, adapter = client(page(['1', '2'], True), page(['3'], False))
        self.assertEqual(['1', '2', '3'], [f['id'] for f in nova.flavors()])
        self.assertEqual([{'is_public': 'None', 'limit': compute.PAGE},
                          {'is_public': 'None', 'limit': compute.PAGE,
                           'marker': '2'}], [c[3] for c in adapter.calls])

    def test_cloud_older_than_2_86_says_which_release(self):
        nova, _ = client((406, {'computeFault': {
            'message': 'Version 2.86 is not supported by the API. Minimum '
                       'is 2.1 and maximum is 2.79.'}}))
        e = self.assertRaises(http.CloudError, nova.set_extra_specs, 'f',
                              {'pci_passthrough:alias': 'a30:1'})
        self.assertIn('needs compute API microversion 2.86 (OpenStack '
                      'Ussuri or later)', str(e))


class TestMigrations(testtools.TestCase):

    def test_one_paged_listing_per_in_progress_status(self):
        answers = {status: [(200, {'migrations': [
            {'uuid': 'm-%s' % status, 'status': status}]})]
            for status in compute.MIGRATION_IN_PROGRESS}
        # 'finished' (a resize waiting for confirm) fills a page.
        answers['finished'] = [
            (200, {'migrations': [{'uuid': 'f1', 'status': 'finished'}],
                   'migrations_links': [{'rel': 'next', 'href': 'x'}]}),
            (200, {'migrations': [{'uuid': 'f2', 'status': 'finished'}]})]

        class ByStatus(Nova):
            def request(self, path, method, **kwargs):
                self.calls.append((method, path, kwargs['microversion'],
                                   dict(kwargs['params'])))
                return Response(*answers[kwargs['params']['status']].pop(0))

        adapter = ByStatus()
        nova = compute.Compute(http.Service(adapter, 'compute'))
        found = nova.migrations_in_progress()
        self.assertEqual(
            sorted(['m-%s' % s for s in compute.MIGRATION_IN_PROGRESS
                    if s != 'finished'] + ['f1', 'f2']),
            sorted(m['uuid'] for m in found))
        self.assertEqual({'/os-migrations'}, {c[1] for c in adapter.calls})
        self.assertIn({'status': 'finished', 'limit': compute.PAGE,
                       'marker': 'f1'}, [c[3] for c in adapter.calls])
        # Final statuses are never asked for.
        self.assertFalse({'confirmed', 'reverted', 'error', 'failed',
                          'completed', 'cancelled', 'done'}
                         & {c[3]['status'] for c in adapter.calls})
