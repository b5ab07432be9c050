"""openstack gpu device list | show | summary"""
from __future__ import annotations

import re

from cliff import lister
from cliff import show
from osc_lib import exceptions

from gpuclient.model import devices
from gpuclient.access import http
from gpuclient.model import selection
from gpuclient.v1 import columns
from gpuclient.v1 import options

DEVICE = (('Host', 'host'), ('Address', 'address'), ('Kind', 'kind'),
          ('Owner', 'owner'), ('Resource Class', 'resource_class'),
          ('PCI ID', 'pci_id'), ('Model', 'model'), ('VF Pool', 'vf_pool'),
          ('Total', 'total'), ('Used', 'used'), ('Reserved', 'reserved'),
          ('Free', 'free'), ('State', 'state'))
CATEGORY = (('Device Type', 'category'),)
DEVICE_LONG = DEVICE + CATEGORY + (
    ('Hypervisor', 'other_hypervisor'), ('Provider', 'provider_uuid'),
    ('One Time Use', 'one_time_use'), ('Traits', 'traits'),
    ('Consumers', 'consumer_ids'))
DEVICE_SHOW = DEVICE + CATEGORY + (
    ('Hypervisor', 'other_hypervisor'), ('Pool', 'pool'),
    ('Vendor', 'vendor_name'), ('Device Name', 'device_name'),
    ('Provider', 'provider_uuid'), ('Provider Name', 'provider_name'),
    ('Generation', 'generation'), ('One Time Use', 'one_time_use'),
    ('Inventory', 'inventory'), ('Traits', 'traits'),
    ('Consumers', 'consumer_records'))
SUMMARY = (('Model', 'model'), ('Kind', 'kind'), ('Devices', 'devices'),
           ('Total', 'total'), ('Used', 'used'), ('Reserved', 'reserved'),
           ('Free', 'free'))

SELECTOR_HELP = ('a device: provider UUID, provider name '
                 '(gpu-a30-1_0000:81:00.0) or HOST:ADDRESS '
                 '(gpu-a30-1:0000:81:00.0, or gpu-a30-1:81:00.0); HOST is '
                 'the service host or the hypervisor hostname; a VF\'s '
                 'address finds its pool')
NO_PCI_IN_PLACEMENT = (
    'note: no PCI device is reported to Placement on this cloud, so the '
    'GPUs Nova passes through are not listed (vGPUs and Cyborg\'s are): set '
    '[pci] report_in_placement = true on the computes and '
    '[filter_scheduler] pci_in_placement = true on the schedulers')


def add_host_option(parser):
    parser.add_argument('--host', metavar='<host>',
                        type=options.nonempty('--host', 'a compute host name'),
                        help='only this compute host: its service host or '
                             'hypervisor hostname, any case (reads only its '
                             'tree)')


def add_all_devices_option(parser):
    parser.add_argument('--all-devices', action='store_true',
                        help='every PCI device Nova or Cyborg manages, not '
                             'only GPUs (NICs, NVMe drives, GPU audio '
                             'functions...), each with its device type')


def _roots(cloud, host: str) -> list[str]:
    """Root provider UUIDs of a host named either way, in any case."""
    if not host.strip():
        raise exceptions.CommandError(
            'an empty host name: give a service host or hypervisor hostname')
    roots = []
    for name in cloud.host_names.hypervisors(host) or [host]:
        try:
            roots.append(cloud.placement.root(name)['uuid'])
        except http.NotFound:
            pass
    if not roots:
        raise exceptions.CommandError(
            'no compute host named %r: neither a Nova service host nor a '
            'hypervisor hostname that Placement knows' % host)
    return roots


def snapshots(cloud, host=None, with_traits=False, traits=(), root=None,
              gpus_only=False):
    """placement.Snapshots of one host's trees (or one root's, or the
    cloud's), one after the other: each reads concurrently already."""
    roots = [root] if root else _roots(cloud, host) if host else [None]
    return [cloud.placement.snapshot(root=r, with_traits=with_traits,
                                     required=traits, gpus_only=gpus_only)
            for r in roots]


def load(cloud, host=None, with_traits=False, traits=(), root=None,
         all_devices=False):
    """The GPUs (every device with all_devices: see Device.is_gpu) of one
    host (service host or hypervisor hostname), of one root provider, or
    of the cloud, with Nova's service hosts; `traits` are filtered by
    Placement."""
    hosts = cloud.host_names.mapping
    return [d for s in snapshots(cloud, host, with_traits, traits, root,
                                 gpus_only=not all_devices)
            for d in devices.build(s, hosts) if d.is_gpu or all_devices]


def find(cloud, selector, with_traits=False):
    """The device a selector names, reading only its host's tree (a bare
    address: every tree)."""
    placement = cloud.placement
    try:
        selection.check_selector(selector)
        if devices.is_uuid(selector):
            uuid = devices.normalise_uuid(selector)
            try:
                root = placement.provider(uuid)['root_provider_uuid']
            except http.NotFound:
                raise selection.NoSuchDevice(
                    'no resource provider with UUID %s' % uuid)
            found = load(cloud, root=root, with_traits=with_traits,
                         all_devices=True)
        elif devices.normalise_address(selector):
            found = load(cloud, with_traits=with_traits, all_devices=True)
        elif ('_' in selector and devices.normalise_address(
                selector.rsplit('_', 1)[-1])):
            # A provider name: <hypervisor hostname>_<address>.
            named = placement.providers(name=selector)
            if named:
                found = load(cloud, root=named[0]['root_provider_uuid'],
                             with_traits=with_traits, all_devices=True)
            else:
                found = load(cloud, host=selector.rsplit('_', 1)[0],
                             with_traits=with_traits, all_devices=True)
        else:
            host_address = devices.split_host_address(selector)
            if not host_address:
                raise selection.NoSuchDevice(
                    'no GPU device %r: name one by %s'
                    % (selector, selection.EXPECTED))
            found = load(cloud, host=host_address[0],
                         with_traits=with_traits, all_devices=True)
        return selection.select(found, selector)
    except selection.NoSuchDevice as e:
        raise exceptions.CommandError(str(e))


def _describe(d: devices.Device) -> None:
    """Cells that only say something where it applies (None otherwise)."""
    d.other_hypervisor = d.hypervisor if d.hypervisor != d.host else None
    d.pool = None
    if d.vf_pool:
        d.pool = ('%d VFs (%s) of the PF at %s; Placement does not record '
                  'the PF\'s ids, nor which VF a server got'
                  % (d.vf_pool, d.pci_id or d.resource_class, d.address))


class ListDevice(lister.Lister):
    """List the GPUs in the cloud: passthrough devices and vGPU GPUs.

    One row per GPU that Placement knows: each PCI device Nova manages
    (PCI in Placement; a pool of VFs is one row), each physical GPU with
    vGPU inventory, and Cyborg's GPUs, with its host (Nova's service host),
    PCI address, owner, model, capacity and state (free, in-use,
    partly-used, or reserved: e.g. a released one-time-use GPU awaiting
    scrubbing). --all-devices adds the other PCI devices (NICs, NVMe...).
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_host_option(parser)
        add_all_devices_option(parser)
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
                            help='passthrough or vgpu')
        parser.add_argument('--long', action='store_true',
                            help='also device type, hypervisor hostname '
                                 '(where it differs), provider UUID, traits '
                                 'and consumers')
        return parser

    def take_action(self, args):
        cloud = self.app.client_manager.gpu
        for option, value in (('vendor-id', args.vendor_id),
                              ('product-id', args.product_id)):
            if value and not re.match(r'^[0-9a-f]{4}$', value, re.I):
                raise exceptions.CommandError(
                    '--%s %r: a PCI id is 4 hex digits, e.g. 10de'
                    % (option, value))
        check_names_exist(cloud, args.resource_class, args.trait)
        check_model(args.model)
        filters = devices.Filters(
            resource_class=args.resource_class, model=args.model,
            vendor_id=args.vendor_id, product_id=args.product_id,
            state=args.state, kind=args.kind)
        taken = snapshots(cloud, args.host, with_traits=args.long,
                          traits=tuple(t.upper() for t in args.trait),
                          gpus_only=not args.all_devices)
        if not args.host and not any(s.pci_managed for s in taken):
            self.app.stderr.write(NO_PCI_IN_PLACEMENT + '\n')
        hosts = cloud.host_names.mapping
        found = [d for s in taken for d in devices.build(s, hosts)
                 if (d.is_gpu or args.all_devices) and filters.match(d)]
        for d in found:
            d.consumer_ids = sorted(d.consumers)
            _describe(d)
        spec = DEVICE_LONG if args.long else (
            DEVICE + CATEGORY if args.all_devices else DEVICE)
        return columns.table(spec, found)


def check_names_exist(cloud, resource_class=None, traits=()):
    """An unknown class or trait is a typo, not an empty answer."""
    placement = cloud.placement
    if resource_class and not placement.resource_class_exists(
            resource_class.upper()):
        raise exceptions.CommandError(
            'no resource class %r in Placement' % resource_class)
    for trait in traits:
        if not placement.trait_exists(trait.upper()):
            raise exceptions.CommandError('no trait %r in Placement' % trait)


def check_model(model):
    if model is not None and not model.strip():
        raise exceptions.CommandError(
            '--model is empty: give a model, e.g. A100')
    if model and not devices.is_known_model(model):
        raise exceptions.CommandError(
            'unknown model %r: neither pci.ids nor the built-in table names '
            'it; built-in models: %s'
            % (model, ', '.join(devices.known_models())))


class ShowDevice(show.ShowOne):
    """Show one device: inventory, usage, traits and who holds it.

    For a pool of VFs: the pool's PF address and size; Placement does not
    record which VF a server got.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('device', metavar='<device>', help=SELECTOR_HELP)
        return parser

    def take_action(self, args):
        cloud = self.app.client_manager.gpu
        device = find(cloud, args.device, with_traits=True)
        _describe(device)

        def consumer(uuid):
            server = cloud.compute.server(uuid)
            try:
                project = cloud.placement.consumer_allocations(uuid).get(
                    'project_id')
            except http.NotFound:
                project = None
            return {'consumer': uuid, 'amount': device.consumers[uuid],
                    'server': server['name'] if server else None,
                    'status': server['status'] if server else 'no server',
                    'project': project}

        device.consumer_records = http.gather(consumer,
                                              sorted(device.consumers))
        return columns.record(DEVICE_SHOW, device)


class DeviceSummary(lister.Lister):
    """Count GPUs per model: total, used, reserved and free.

    The answer to "how many free A100s do we have, and where" (--by host).
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_host_option(parser)
        add_all_devices_option(parser)
        parser.add_argument('--by', choices=['model', 'host'],
                            default='model',
                            help='group by model (default) or by host and '
                                 'model')
        return parser

    def take_action(self, args):
        by_host = args.by == 'host'
        found = load(self.app.client_manager.gpu, args.host,
                     all_devices=args.all_devices)
        groups = devices.summarize(found, by_host=by_host)
        return columns.table(((('Host', 'host'),) if by_host else ())
                             + SUMMARY, groups)
