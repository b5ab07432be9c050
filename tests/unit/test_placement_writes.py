"""placement.Placement.read_modify_write: which refusals are retried, and
how often. It takes the read and the write as functions, so no HTTP."""
import fixtures
import testtools

from gpuclient.access import http
from gpuclient.access import placement

RACE_500 = http.CloudError('Placement: %s (HTTP 500)'
                           % http.CONCURRENT_UPDATE_500, 500, None,
                           detail=http.CONCURRENT_UPDATE_500)
STALE_409 = http.Conflict('Placement: stale (HTTP 409)', 409,
                          'placement.concurrent_update')


class TestReadModifyWrite(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.MonkeyPatch(
            'gpuclient.access.placement.RETRY_PAUSE', 0))
        self.reads = 0

    def write_failing(self, *errors):
        """write() raising each error once, then succeeding; and read()
        with a new generation each time."""
        errors = list(errors)
        written = []

        def read():
            self.reads += 1
            return {'resource_provider_generation': self.reads,
                    'traits': ['OWNER_NOVA']}

        def write(generation, value):
            if errors:
                raise errors.pop(0)
            written.append((generation, value))
            return {'traits': value}

        placement.Placement(None).read_modify_write(
            read, lambda body: body['traits'] + ['CUSTOM_X'], write)
        return written

    def test_lost_races_409_and_500_are_re_read_and_retried(self):
        written = self.write_failing(STALE_409, RACE_500, RACE_500)
        self.assertEqual([(4, ['OWNER_NOVA', 'CUSTOM_X'])], written)

    def test_other_500s_and_409s_are_raised_at_once(self):
        for error in (http.CloudError('Placement: boom (HTTP 500)', 500,
                                      None, detail='boom'),
                      http.Conflict('Placement: in use (HTTP 409)', 409,
                                    'placement.inventory.inuse')):
            self.reads = 0
            e = self.assertRaises(http.CloudError, self.write_failing, error)
            self.assertIs(error, e)
            self.assertEqual(1, self.reads)

    def test_bounded(self):
        e = self.assertRaises(
            http.Conflict, self.write_failing,
            *[RACE_500] * placement.WRITE_ATTEMPTS)
        self.assertIn('kept changing under %d attempts'
                      % placement.WRITE_ATTEMPTS, str(e))
        self.assertEqual(placement.WRITE_ATTEMPTS, self.reads)
