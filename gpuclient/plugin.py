"""OpenStackClient plugin hooks for ``openstack gpu``.

OSC imports this module on every run of every ``openstack`` command, so it
imports nothing heavy: the client is built on first use.
"""

API_NAME = 'gpu'
API_VERSION_OPTION = 'os_gpu_api_version'
API_VERSIONS = {'1': 'gpuclient.cloud.Cloud'}
DEFAULT_API_VERSION = '1'


def make_client(instance):
    from gpuclient import cloud

    return cloud.Cloud.from_client_manager(instance)


def build_option_parser(parser):
    parser.add_argument(
        '--os-gpu-api-version', metavar='<gpu-api-version>',
        default=DEFAULT_API_VERSION,
        help='python-gpuclient command set version, default=%s'
             % DEFAULT_API_VERSION)
    return parser
