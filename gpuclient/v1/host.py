"""openstack gpu host label"""
from __future__ import annotations

import socket

from osc_lib import exceptions

from gpuclient.operations import labels
from gpuclient.operations import reading
from gpuclient.v1 import base
from gpuclient.v1 import columns
from gpuclient.v1 import options

RESULT = (('Address', 'address'), ('GPU', 'gpu'), ('Model', 'model'),
          ('vGPU Type', 'vgpu_type'), ('VFs', 'vfs'), ('Added', 'added'),
          ('Removed', 'removed'), ('Result', 'result'),
          ('Provider', 'provider'))
NOVA_CONF = '/etc/nova/nova.conf'


class LabelHost(base.Lister):
    """Label this host's vGPU providers with their GPU, model and vGPU type.

    Run on a compute host (with a credential that may write Placement's
    traits, e.g. nova's): reads /sys (or --sysfs DIR) and nova.conf, and
    writes on each vGPU provider Nova's libvirt driver made for this host
    the traits that say what Placement cannot: CUSTOM_GPU_ADDR_<PF
    address> (the physical GPU a VF belongs to),
    CUSTOM_GPU_PCI_<vendor>_<product> (its model),
    CUSTOM_VGPU_TYPE_<type name> (the vGPU type,
    e.g. CUSTOM_VGPU_TYPE_A40_2Q, which a flavor can require) and, for a
    VF, CUSTOM_GPU_VFS_<n> (the VFs its GPU has enabled). Every other
    trait is kept; labels that no longer hold (a type changed) are
    replaced; each write is made on the provider generation it read.
    Idempotent: safe from a systemd timer. Only this host's trees are
    read or written. One row per provider, and per VF Nova made no
    provider for; exits 1 if a provider could not be labelled, or its VF
    is gone from the host (VFs not enabled again after a reboot: the
    labels then record the VFs the GPU has, for gpu audit).
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--host', metavar='<host>', type=options.HOST,
                            help="this compute host's service host or "
                                 "hypervisor hostname (default: nova.conf's "
                                 "[DEFAULT] host, else this machine's "
                                 "hostname)")
        parser.add_argument('--sysfs', metavar='<dir>', default='/sys',
                            type=options.nonempty('--sysfs', 'a directory '
                                                  '(/sys or a copy of it)'),
                            help='/sys, or a copy of it (default: /sys)')
        options.add_nova_conf(parser, 'the vGPU types it enables (default: '
                              '%s)' % NOVA_CONF)
        parser.add_argument('--dry-run', action='store_true',
                            help='show what would change; write nothing')
        return parser

    def take_action(self, args):
        conf = reading.load_nova_conf(args.nova_conf or [NOVA_CONF])
        host = args.host or conf.host or socket.gethostname()
        sysfs_host = reading.load_sysfs(args.sysfs)
        if not conf.enabled_mdev_types:
            raise exceptions.CommandError(
                '%s enables no vGPU type ([devices] enabled_mdev_types): '
                'nothing on this host to label' % ', '.join(conf.paths))
        rows = labels.label(self.app.client_manager.gpu, host, sysfs_host,
                            conf, dry_run=args.dry_run)
        failed = [r for r in rows if r['failed']]
        providers = [r for r in rows if r['provider']]
        gone = [r for r in failed if r['vf_gone']]
        return columns.table(RESULT, rows, empty=(
            'no vGPU provider in Placement for host %s' % host),
            failure=failed and ('%d of %d vGPU provider(s) on %s %s' % (
                len(failed), len(providers), host,
                'have no VF on this host (see Result)' if gone else
                'could not be labelled')))
