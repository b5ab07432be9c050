"""Every command says what it does and every option says what it takes:
`openstack gpu --help` and `openstack help gpu ...` are an operator's
first read."""
import importlib.metadata

from openstackclient import shell
import testtools


def commands():
    """(name, class) of every command setup.cfg installs."""
    return sorted((ep.name.replace('_', ' '), ep.load()) for ep in
                  importlib.metadata.entry_points(group='openstack.gpu.v1'))


class TestHelp(testtools.TestCase):

    def test_every_command_has_a_description(self):
        for name, cls in commands():
            doc = (cls.__doc__ or '').strip()
            self.assertTrue(doc, '%s has no description' % name)

    def test_every_option_has_help(self):
        app = shell.OpenStackShell()
        for name, cls in commands():
            parser = cls(app, None).get_parser('openstack ' + name)
            for action in parser._actions:
                self.assertTrue(action.help, '%s: %s has no help text' % (
                    name, '/'.join(action.option_strings) or action.dest))
