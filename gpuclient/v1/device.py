"""openstack gpu device list | show | summary"""
from __future__ import annotations

from cliff import lister
from cliff import show
from osc_lib import exceptions

from gpuclient import devices
from gpuclient import http
from gpuclient.v1 import columns

DEVICE = (('Host', 'host'), ('Address', 'address'), ('Kind', 'kind'),
          ('Resource Class', 'resource_class'), ('PCI ID', 'pci_id'),
          ('Model', 'model'), ('Total', 'total'), ('Used', 'used'),
          ('Reserved', 'reserved'), ('Free', 'free'), ('State', 'state'))
DEVICE_LONG = DEVICE + (('Provider', 'provider_uuid'),
                        ('One Time Use', 'one_time_use'),
                        ('Traits', 'traits'), ('Consumers', 'consumer_ids'))
DEVICE_SHOW = DEVICE + (
    ('Provider', 'provider_uuid'), ('Provider Name', 'provider_name'),
    ('Generation', 'generation'), ('One Time Use', 'one_time_use'),
    ('Inventory', 'inventory'), ('Traits', 'traits'),
    ('Consumers', 'consumer_records'))
SUMMARY = (('Model', 'model'), ('Kind', 'kind'), ('Devices', 'devices'),
           ('Total', 'total'), ('Used', 'used'), ('Reserved', 'reserved'),
           ('Free', 'free'))

SELECTOR_HELP = ('a device: provider UUID, provider name '
                 '(gpu-a30-1_0000:81:00.0) or HOST:ADDRESS '
                 '(gpu-a30-1:0000:81:00.0, or gpu-a30-1:81:00.0)')


def add_host_option(parser):
    parser.add_argument('--host', metavar='<host>',
                        help='only this compute host (reads only its tree)')


def load(cloud, host=None, with_traits=False):
    """The devices of one host or of the cloud."""
    return devices.build(cloud.placement.snapshot(
        host=host, with_traits=with_traits))


def find(cloud, selector, with_traits=False):
    """The device a selector names, reading only its host's tree."""
    placement = cloud.placement
    try:
        if devices.is_uuid(selector):
            root = placement.provider(selector)['root_provider_uuid']
        else:
            found = placement.providers(name=selector)
            host_address = devices.split_host_address(selector)
            if found:
                root = found[0]['root_provider_uuid']
            elif host_address:
                root = placement.root(host_address[0])['uuid']
            else:
                raise devices.NoSuchDevice(
                    'no resource provider named %r' % selector)
        return devices.select(devices.build(placement.snapshot(
            root=root, with_traits=with_traits)), selector)
    except devices.NoSuchDevice as e:
        raise exceptions.CommandError(str(e))


def find_all(cloud, selectors, with_traits=False):
    """Each device named, once, every name resolved before anything is
    written. One name after the other: each find already reads its tree
    concurrently, and nesting pools would unbound the requests in flight."""
    named = [find(cloud, s, with_traits) for s in selectors]
    return list({d.provider_uuid: d for d in named}.values())


class ListDevice(lister.Lister):
    """List every GPU in the cloud: passthrough devices and vGPU GPUs.

    One row per GPU that Placement knows: each PCI device Nova manages
    (PCI in Placement) and each physical GPU with vGPU inventory, with its
    host, PCI address, model, capacity and state (free, in-use, partly
    used, or reserved: e.g. a released one-time-use GPU awaiting scrubbing).
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_host_option(parser)
        parser.add_argument('--resource-class', metavar='<class>')
        parser.add_argument('--model', metavar='<model>',
                            help='e.g. A100, H100, "RTX 3090"')
        parser.add_argument('--vendor-id', metavar='<vendor-id>')
        parser.add_argument('--product-id', metavar='<product-id>')
        parser.add_argument('--trait', metavar='<trait>', action='append',
                            default=[], help='devices with this trait '
                            '(repeat for all of several)')
        parser.add_argument('--state', choices=devices.STATES)
        parser.add_argument('--kind', choices=devices.KINDS)
        parser.add_argument('--long', action='store_true',
                            help='also provider UUID, traits and consumers')
        return parser

    def take_action(self, args):
        cloud = self.app.client_manager.gpu
        check_names_exist(cloud, args.resource_class, args.trait)
        check_model(args.model)
        filters = devices.Filters(
            resource_class=args.resource_class, model=args.model,
            vendor_id=args.vendor_id, product_id=args.product_id,
            traits=tuple(t.upper() for t in args.trait), state=args.state,
            kind=args.kind)
        found = [d for d in load(cloud, args.host,
                                 with_traits=args.long or bool(args.trait))
                 if filters.match(d)]
        for d in found:
            d.consumer_ids = sorted(d.consumers)
        return columns.table(DEVICE_LONG if args.long else DEVICE, found)


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
    if model and model.lower() not in {
            m.lower() for m in devices.MODELS.values()}:
        known = sorted(set(devices.MODELS.values()))
        raise exceptions.CommandError('unknown model %r; known models: %s'
                                      % (model, ', '.join(known)))


class ShowDevice(show.ShowOne):
    """Show one GPU: inventory, usage, traits and who holds it."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('device', metavar='<device>', help=SELECTOR_HELP)
        return parser

    def take_action(self, args):
        cloud = self.app.client_manager.gpu
        device = find(cloud, args.device, with_traits=True)

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
        parser.add_argument('--by', choices=['model', 'host'],
                            default='model',
                            help='group by model (default) or by host and '
                                 'model')
        return parser

    def take_action(self, args):
        by_host = args.by == 'host'
        groups = devices.summarize(load(self.app.client_manager.gpu,
                                        args.host), by_host=by_host)
        return columns.table(((('Host', 'host'),) if by_host else ())
                             + SUMMARY, groups)
