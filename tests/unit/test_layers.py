"""The layers hold by test, not by convention: what each package may
import, and what the plugin's package must never import."""
import ast
import configparser
import os

import testtools

ROOT = os.path.join(os.path.dirname(__file__), '..', '..')
PACKAGE = os.path.join(ROOT, 'gpuclient')
# Packages each layer must not import (the layers above it).
FORBIDDEN = {
    'access': ('model', 'hostconfig', 'operations', 'v1'),
    'model': ('access', 'operations', 'v1'),
    'hostconfig': ('access', 'operations', 'v1'),
    'operations': ('v1',),
}
# v1 modules that are not commands: the only ones a command may import.
V1_SHARED = {'base', 'columns', 'options'}
TEST_ONLY = ('nova', 'keystone', 'placement', 'unittest', 'gpu_sandbox')


def imports(path):
    """Every module name the file imports, at any depth (lazy ones too)."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from ('%s.%s' % (node.module, alias.name)
                        for alias in node.names)


def modules():
    """(layer, module name, path) of every module of the package."""
    for folder, _, files in os.walk(PACKAGE):
        layer = os.path.relpath(folder, PACKAGE).split(os.sep)[0]
        for name in files:
            if name.endswith('.py'):
                yield layer, name[:-3], os.path.join(folder, name)


class TestLayers(testtools.TestCase):

    def test_no_layer_imports_one_above_it(self):
        found = []
        for layer, name, path in modules():
            for module in imports(path):
                parts = module.split('.')
                if (parts[0] == 'gpuclient' and len(parts) > 1
                        and parts[1] in FORBIDDEN.get(layer, ())):
                    found.append('%s/%s imports %s' % (layer, name, module))
        self.assertEqual([], found)

    def test_no_command_module_imports_another(self):
        found = []
        for layer, name, path in modules():
            if layer != 'v1':
                continue
            for module in imports(path):
                parts = module.split('.')
                if (parts[:2] == ['gpuclient', 'v1'] and len(parts) == 3
                        and parts[2] not in V1_SHARED):
                    found.append('v1/%s imports %s' % (name, module))
        self.assertEqual([], found)

    def test_the_package_imports_no_service_or_test_code(self):
        # What the wheel ships: the sandbox is its own distribution.
        found = ['%s/%s imports %s' % (layer, name, module)
                 for layer, name, path in modules()
                 for module in imports(path)
                 if module.split('.')[0] in TEST_ONLY]
        self.assertEqual([], found)

    def test_no_gpu_sandbox_script_in_the_plugin(self):
        setup = configparser.ConfigParser()
        setup.read(os.path.join(ROOT, 'setup.cfg'))
        self.assertNotIn('gpu-sandbox', setup.get(
            'entry_points', 'console_scripts', fallback=''))
        sandbox = configparser.ConfigParser()
        sandbox.read(os.path.join(ROOT, 'sandbox', 'setup.cfg'))
        self.assertIn('gpu-sandbox = gpu_sandbox.cli:main', sandbox.get(
            'options.entry_points', 'console_scripts'))
