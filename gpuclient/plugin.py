"""OpenStackClient plugin hooks for ``openstack gpu``.

OSC imports this module on every run of every ``openstack`` command, so it
imports nothing heavy: the client is built on first use.
"""
import argparse

from osc_lib import utils

API_NAME = 'gpu'
API_VERSION_OPTION = 'os_gpu_api_version'
API_VERSIONS = {'1': 'gpuclient.access.cloud.Cloud'}
DEFAULT_API_VERSION = '1'


def make_client(instance):
    from gpuclient.access import cloud

    return cloud.Cloud.from_client_manager(instance)


def build_option_parser(parser):
    parser.add_argument(
        '--os-gpu-api-version', metavar='<gpu-api-version>',
        default=DEFAULT_API_VERSION,
        help='python-gpuclient command set version, default=%s'
             % DEFAULT_API_VERSION)
    # OSC has no request timeout or per-service endpoint options of its
    # own; openstacksdk's config reads these keys from clouds.yaml
    # (api_timeout, <service>_endpoint_override), and an option's value
    # lands in the same key, so command line > environment > clouds.yaml.
    # Added only if no other plugin has. `or None`: osc-lib before 3.1
    # returns '' for an unset variable, which type=float would refuse on
    # every openstack command.
    for flag, kwargs in (
            ('--os-api-timeout', dict(
                metavar='<seconds>', type=float,
                default=utils.env('OS_API_TIMEOUT') or None,
                help='Seconds to wait for each API answer (Env: '
                     'OS_API_TIMEOUT; clouds.yaml: api_timeout). '
                     '"openstack gpu" commands default to 60')),
            ('--os-placement-endpoint-override', dict(
                metavar='<url>',
                default=utils.env('OS_PLACEMENT_ENDPOINT_OVERRIDE',
                                  'OS_PLACEMENT_ENDPOINT') or None,
                help='Placement endpoint to use instead of the catalog\'s '
                     '(Env: OS_PLACEMENT_ENDPOINT_OVERRIDE; clouds.yaml: '
                     'placement_endpoint_override)')),
            ('--os-compute-endpoint-override', dict(
                metavar='<url>',
                default=utils.env('OS_COMPUTE_ENDPOINT_OVERRIDE',
                                  'OS_COMPUTE_ENDPOINT') or None,
                help='Nova endpoint to use instead of the catalog\'s '
                     '(Env: OS_COMPUTE_ENDPOINT_OVERRIDE; clouds.yaml: '
                     'compute_endpoint_override)'))):
        try:
            parser.add_argument(flag, **kwargs)
        except argparse.ArgumentError:
            pass
    return parser
