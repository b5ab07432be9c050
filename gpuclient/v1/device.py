"""openstack gpu device list | show | summary"""
from __future__ import annotations

import re

from osc_lib import exceptions

from gpuclient.model import devices
from gpuclient.operations import reading
from gpuclient.operations import servers as server_ops
from gpuclient.v1 import base
from gpuclient.v1 import columns
from gpuclient.v1 import options

# The columns read first; the rest under --long (a 120-column table).
DEVICE = (('Host', 'host'), ('Address', 'address'), ('Model', 'model'),
          ('Kind', 'kind'), ('vGPU Type', 'vgpu_type'), ('Total', 'total'),
          ('Used', 'used'), ('Free', 'free'), ('State', 'state'))
CATEGORY = (('Device Type', 'category'),)
_DETAIL = (('Owner', 'owner'), ('Resource Class', 'resource_class'),
           ('PCI ID', 'pci_id'), ('VF Pool', 'vf_pool'), ('VFs', 'vf_count'),
           ('VFs Without Provider', 'vfs_without_provider'),
           ('Reserved', 'reserved')) + CATEGORY + (
    ('Hypervisor', 'other_hypervisor'),)
# --vfs: each VF provider of an SR-IOV vGPU GPU, under its GPU.
VF = (('Host', 'host'), ('GPU', 'gpu_address'), ('Address', 'address'),
      ('Model', 'model'), ('vGPU Type', 'vgpu_type'),
      ('Resource Class', 'resource_class'), ('Total', 'total'),
      ('Used', 'used'), ('Free', 'free'), ('State', 'state'),
      ('GPU From', 'gpu_source'), ('Provider', 'provider_uuid'))
DEVICE_LONG = DEVICE + _DETAIL + (
    ('Provider', 'provider_uuid'), ('One Time Use', 'one_time_use'),
    ('Traits', 'traits'), ('Consumers', 'consumer_ids'),
    ('Reason', 'reason'))
DEVICE_SHOW = DEVICE + _DETAIL + (
    ('Pool', 'pool'), ('Vendor', 'vendor_name'),
    ('Device Name', 'device_name'), ('Provider', 'provider_uuid'),
    ('Provider Name', 'provider_name'), ('Generation', 'generation'),
    ('One Time Use', 'one_time_use'), ('Inventory', 'inventory'),
    ('Traits', 'traits'), ('Reason', 'reason'), ('Inspection', 'inspection'),
    ('GPU Buses', 'gpu_buses'), ('GPU', 'gpu_address'),
    ('GPU From', 'gpu_source'),
    ('VF Providers', 'vf_records'), ('Consumers', 'consumer_records'))
SUMMARY = (('Model', 'model'), ('Kind', 'kind'), ('vGPU Type', 'vgpu_type'),
           ('Devices', 'devices'),
           ('Total', 'total'), ('Used', 'used'), ('Reserved', 'reserved'),
           ('Free', 'free'))

NO_PCI_IN_PLACEMENT = (
    'note: no PCI device is reported to Placement on this cloud, so the '
    'GPUs Nova passes through are not listed (vGPUs and Cyborg\'s are): set '
    '[pci] report_in_placement = true on the computes and '
    '[filter_scheduler] pci_in_placement = true on the schedulers')


class ListDevice(base.Lister):
    """List the GPUs in the cloud: passthrough devices and vGPU GPUs.

    One row per GPU that Placement knows: each PCI device Nova manages
    (PCI in Placement; a pool of VFs is one row), each physical GPU with
    vGPU inventory (an SR-IOV GPU's one provider per VF make one row: --vfs
    lists them), and Cyborg's GPUs, with its host (Nova's service host),
    PCI address, owner, model, vGPU type, capacity and state (free, in-use,
    partly-used, or reserved: e.g. a released one-time-use GPU awaiting
    scrubbing). A vGPU GPU's model and type come from the labels `gpu host
    label` writes. --all-devices adds the other PCI devices (NICs, NVMe...).
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        options.add_host_option(parser)
        options.add_all_devices_option(parser)
        parser.add_argument('--resource-class', metavar='<class>',
                            type=options.nonempty('--resource-class',
                                                  'a resource class'),
                            help='only devices of this resource class')
        parser.add_argument('--model', metavar='<model>',
                            type=options.nonempty('--model', 'a GPU model'),
                            help='e.g. A100, H100, "RTX 3090", MI25: names '
                                 'from pci.ids or the built-in table')
        parser.add_argument('--vendor-id', metavar='<vendor-id>',
                            type=options.nonempty('--vendor-id',
                                                  'a PCI vendor id'),
                            help='PCI vendor id, 4 hex digits (10de)')
        parser.add_argument('--product-id', metavar='<product-id>',
                            type=options.nonempty('--product-id',
                                                  'a PCI product id'),
                            help='PCI product id, 4 hex digits (20b7)')
        parser.add_argument('--trait', metavar='<trait>', action='append',
                            type=options.nonempty('--trait', 'a trait name'),
                            default=[], help='devices with this trait '
                            '(repeat for all of several)')
        parser.add_argument('--state', choices=devices.STATES,
                            help='only devices in this state')
        parser.add_argument('--kind', choices=devices.KINDS,
                            help='passthrough, vgpu or baremetal (Ironic '
                                 'nodes, one row per node)')
        parser.add_argument('--vgpu-type', metavar='<type>',
                            type=options.nonempty('--vgpu-type',
                                                  'a vGPU type name'),
                            help='only vGPU GPUs of this type (A40-2Q), as '
                                 'their labels name it')
        parser.add_argument('--vfs', action='store_true',
                            help='one row per VF provider of SR-IOV vGPU '
                                 'GPUs (and per device otherwise), with the '
                                 'GPU each belongs to')
        parser.add_argument('--long', action='store_true',
                            help='also owner, resource class, PCI ID, VF '
                                 'pool size, an SR-IOV GPU\'s VFs and those '
                                 'without a provider, reserved, device type, '
                                 'hypervisor hostname (where it differs), '
                                 'provider UUID, traits and consumers')
        return parser

    def take_action(self, args):
        cloud = self.app.client_manager.gpu
        for option, value in (('vendor-id', args.vendor_id),
                              ('product-id', args.product_id)):
            if value and not re.match(r'^[0-9a-f]{4}$', value, re.I):
                raise exceptions.CommandError(
                    '--%s %r: a PCI id is 4 hex digits, e.g. 10de'
                    % (option, value))
        reading.check_names_exist(cloud, args.resource_class, args.trait)
        reading.check_model(args.model)
        filters = devices.Filters(
            resource_class=args.resource_class, model=args.model,
            vendor_id=args.vendor_id, product_id=args.product_id,
            state=args.state, kind=args.kind, vgpu_type=args.vgpu_type)
        nodes = ([] if args.kind not in (None, devices.BAREMETAL) else
                 reading.baremetal_nodes(cloud, args.host, args.all_devices))
        try:
            taken = [] if args.kind == devices.BAREMETAL else (
                reading.snapshots(cloud, args.host, with_traits=args.long,
                                  traits=tuple(t.upper() for t in args.trait),
                                  gpus_only=not args.all_devices))
        except reading.NoSuchHost:
            if not nodes:   # a bare-metal node's name is a host too
                raise
            taken = []
        if (not args.host and args.kind != devices.BAREMETAL
                and not any(s.pci_managed for s in taken)):
            self.app.stderr.write(NO_PCI_IN_PLACEMENT + '\n')
        wanted = {t.upper() for t in args.trait}   # Placement's filter
        every = [d for d in reading.build(cloud, taken)
                 if d.is_gpu or args.all_devices] + [
                     d for d in nodes if wanted <= set(d.traits)]
        for note in (devices.label_hint(every),
                     reading.unseen_nodes(cloud) if not args.host and
                     args.kind in (None, devices.BAREMETAL) else None):
            if note:
                self.app.stderr.write(note + '\n')
        found = [d for d in (every if args.vfs else devices.by_gpu(every))
                 if filters.match(d)]
        if args.vfs:
            spec = VF
        else:
            spec = DEVICE_LONG if args.long else (
                DEVICE + CATEGORY if args.all_devices else DEVICE)
        looked_for = options.given(
            args, 'host', 'resource_class', 'model', 'vendor_id',
            'product_id', 'trait', 'state', 'kind', 'vgpu_type')
        return columns.table(spec, found, empty=_none_found(args, looked_for))


class ShowDevice(base.ShowOne):
    """Show one device: inventory, usage, traits and who holds it.

    For a pool of VFs: the pool's PF address and size; Placement does not
    record which VF a server got. For an SR-IOV vGPU GPU (HOST:GPU
    ADDRESS): its VF providers and who holds each; a VF's address or
    provider shows that VF and the GPU it belongs to.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('device', metavar='<device>',
                            help=options.SELECTOR_HELP)
        return parser

    def take_action(self, args):
        cloud = self.app.client_manager.gpu
        device = reading.find(cloud, args.device, with_traits=True)
        return columns.record(DEVICE_SHOW, device,
                              consumer_records=server_ops.consumers(
                                  cloud, device))


class DeviceSummary(base.Lister):
    """Count GPUs per model and vGPU type: total, used, reserved and free.

    An SR-IOV vGPU GPU counts once, however many VF providers it has.

    The answer to "how many free A100s do we have, and where" (--by host).
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        options.add_host_option(parser)
        options.add_all_devices_option(parser)
        parser.add_argument('--by', choices=['model', 'host'],
                            default='model',
                            help='group by model (default) or by host and '
                                 'model')
        return parser

    def take_action(self, args):
        by_host = args.by == 'host'
        cloud = self.app.client_manager.gpu
        found = reading.load_with_nodes(cloud, args.host, args.all_devices)
        for note in (devices.label_hint(found),
                     reading.unseen_nodes(cloud) if not args.host else None):
            if note:
                self.app.stderr.write(note + '\n')
        groups = devices.summarize(found, by_host=by_host)
        return columns.table(((('Host', 'host'),) if by_host else ())
                             + SUMMARY, groups, empty=_none_found(
                                 args, options.given(args, 'host')))


def _none_found(args, looked_for):
    what = 'devices' if args.all_devices else 'GPUs'
    where = ('in Ironic' if getattr(args, 'kind', None) == devices.BAREMETAL
             else 'in Placement')
    if looked_for:
        return 'no %s %s match %s' % (what, where, looked_for)
    return 'no %s in Placement%s' % (what, '' if args.all_devices else (
        ' (--all-devices lists the other PCI devices)'))
