"""The bench's client CPU per request: fixed costs left out."""
import os
import sys

import testtools

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..',
                                'tools'))
import bench  # noqa: E402


def size(n, requests, floor_requests, fixed, per_ms, floor_per_ms,
         http_per_ms):
    """Figures of one size, each CPU = a fixed cost + per request."""
    def cpu(count, per):
        return fixed + count * per / 1000

    return {'gpu_providers': n, 'floor_requests': floor_requests,
            'gpuclient_cpu_s': cpu(requests, per_ms),
            'floor_client_cpu_s': cpu(floor_requests, floor_per_ms),
            'http_path_client_cpu_s': cpu(floor_requests, http_per_ms),
            'commands': {'device_list': {
                'requests': requests,
                'client_cpu_s': 1.0 + cpu(requests, per_ms)}}}


class TestPerRequest(testtools.TestCase):

    def test_slope_leaves_fixed_costs_out(self):
        sizes = {'100': size(100, 215, 214, 0.3, 0.4, 0.2, 0.3),
                 '5000': size(5000, 10015, 10014, 0.3, 0.4, 0.2, 0.3),
                 '1000': size(1000, 2055, 2054, 0.3, 0.4, 0.2, 0.3)}
        found = bench.per_request(sizes)
        self.assertEqual([100, 5000], found['sizes'])
        self.assertAlmostEqual(0.4, found['command_ms'])
        self.assertAlmostEqual(0.4, found['process_ms'])
        self.assertAlmostEqual(0.3, found['http_path_ms'])
        self.assertAlmostEqual(0.2, found['floor_ms'])
        self.assertAlmostEqual(2.0, found['command_vs_floor'])
        self.assertAlmostEqual(1.5, found['http_path_vs_floor'])

    def test_one_size_has_no_slope(self):
        self.assertEqual({}, bench.per_request(
            {'1000': size(1000, 2055, 2054, 0.3, 0.4, 0.2, 0.3)}))
