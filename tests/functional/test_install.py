"""The install path the README gives until the package is on an index: a
wheel built from this clone, installed into a virtualenv that holds only
python-openstackclient (as an operator's OSC venv does), run against the
sandbox cloud. Neither Nova, Placement, Keystone nor gpu-sandbox is in it.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from gpu_sandbox import client
from tests.functional import base

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
# pip resolving and installing OSC and the plugin's requirements
INSTALL_TIMEOUT = 900


def run(*argv, env=None):
    return subprocess.run(argv, capture_output=True, text=True, env=env,
                          timeout=INSTALL_TIMEOUT)


class TestWheelInstall(base.SandboxTestCase):

    def test_wheel_into_a_venv_with_only_openstackclient(self):
        work = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, work)
        pip = [sys.executable, '-m', 'pip']
        built = run(*pip, 'wheel', '-q', '--no-deps', '-w',
                    os.path.join(work, 'dist'), ROOT)
        self.assertEqual(0, built.returncode, built.stderr)
        [wheel] = os.listdir(os.path.join(work, 'dist'))
        self.assertTrue(wheel.startswith('python_gpuclient-'), wheel)
        venv = os.path.join(work, 'venv')
        made = run(sys.executable, '-m', 'venv', venv)
        self.assertEqual(0, made.returncode, made.stderr)
        installed = run(os.path.join(venv, 'bin', 'pip'), 'install', '-q',
                        '-c', os.path.join(ROOT, 'constraints.txt'),
                        'python-openstackclient',
                        os.path.join(work, 'dist', wheel))
        self.assertEqual(0, installed.returncode, installed.stderr)
        frozen = run(os.path.join(venv, 'bin', 'pip'), 'freeze').stdout
        names = {line.split('==')[0].lower() for line in frozen.split()}
        self.assertIn('python-gpuclient', names)
        self.assertEqual(set(), names & {'nova', 'openstack-placement',
                                          'keystone', 'gpu-sandbox'})

        openstack = os.path.join(venv, 'bin', 'openstack')
        env = {'PATH': '/usr/bin:/bin', 'HOME': work, 'LANG': 'C.UTF-8',
               'OS_CLIENT_CONFIG_FILE': self.sandbox().state.clouds_yaml,
               'OS_CLOUD': client.ADMIN_CLOUD}
        shown = run(openstack, 'gpu', '--help', env=env)
        self.assertEqual(0, shown.returncode, shown.stderr)
        self.assertIn('openstack gpu device list', shown.stdout)
        listed = run(openstack, 'gpu', 'device', 'list', '-f', 'json',
                     env=env)
        self.assertEqual(0, listed.returncode, listed.stderr)
        self.assertEqual(self.gpu('device', 'list'), json.loads(listed.stdout))
