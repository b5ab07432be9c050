"""lower-constraints.txt (tox -e lower-constraints) pins exactly the lower
bounds requirements.txt and test-requirements.txt claim, but for pbr:
fixtures 4.0.0 (a test requirement) needs pbr 5.7.0, so the unit tests
cannot run on pbr 2.0.0. requirements.txt's pbr>=2.0.0 is proven by
tests/functional/test_install.py, which installs the plugin on it."""
import os

import testtools

ROOT = os.path.join(os.path.dirname(__file__), '..', '..')


def lines(name):
    with open(os.path.join(ROOT, name)) as f:
        return [line.strip() for line in f
                if line.strip() and not line.startswith('#')]


class TestLowerConstraints(testtools.TestCase):

    def test_equal_to_the_claimed_lower_bounds(self):
        claimed = [line.replace('>=', '==') for name in (
            'requirements.txt', 'test-requirements.txt')
            for line in lines(name) if '>=' in line]
        claimed = ['pbr==5.7.0' if line.startswith('pbr==') else line
                   for line in claimed]
        self.assertEqual(sorted(claimed),
                         sorted(lines('lower-constraints.txt')))
