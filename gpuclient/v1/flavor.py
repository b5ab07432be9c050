"""openstack gpu flavor create | list | capacity"""
from __future__ import annotations

from osc_lib import exceptions

from gpuclient.model import flavors
from gpuclient.operations import flavors as flavor_ops
from gpuclient.operations import reading
from gpuclient.v1 import base
from gpuclient.v1 import columns
from gpuclient.v1 import options

FLAVOR_LIST = (('ID', 'id'), ('Name', 'name'), ('VCPUs', 'vcpus'),
               ('RAM', 'ram'), ('Disk', 'disk'),
               ('GPU Request', 'gpu_request'))
_DETAIL = (('Is Public', 'os-flavor-access:is_public'),
           ('Ephemeral', 'OS-FLV-EXT-DATA:ephemeral'), ('Swap', 'swap'),
           ('Description', 'description'))
NO_GPU_FLAVORS = ('no GPU flavors: openstack gpu flavor create --vcpus N '
                  '--ram MB --disk GB --alias ALIAS (or --vgpu N, or '
                  '--baremetal CLASS) NAME makes one')
FLAVOR_LIST_LONG = FLAVOR_LIST + _DETAIL + (('Extra Specs', 'extra_specs'),)
FLAVOR_SHOW = FLAVOR_LIST + _DETAIL + (
    ('Access Project IDs', 'access_project_ids'),
    ('Extra Specs', 'extra_specs'))


class CreateFlavor(base.ShowOne):
    """Create a GPU flavor in one checked step.

    The flavor asks for passthrough GPUs by the nova.conf [pci] alias
    (--alias a30, --alias a100:2), for vGPUs (--vgpu 1) or for a whole
    bare-metal node (--baremetal baremetal.gpu-h100); traits pick a GPU
    type, and --vgpu-type A40-2Q the vGPU type (from the labels `gpu host
    label` writes). Before anything is written the request is checked: the
    recipes Nova rejects or mis-schedules (hw:kvm_hidden, a flavor
    hw_machine_type, a resources: spec for a Nova-managed PCI class) are
    refused with what to do instead, traits and classes must exist in
    Placement, and the name must be free. A count no host can ever give is
    refused: more devices than one host has (of the alias's class with
    --nova-conf, else of any one GPU class), more vGPUs than the hosts'
    providers give, or more than 64 of anything. With --nova-conf an alias
    nova.conf does not define is refused and the alias's device_type,
    class and NUMA policy are shown. The extra specs are written at
    compute API 2.86, where Nova validates them; if Nova refuses them the
    flavor is deleted again.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('name', metavar='<flavor-name>',
                            type=options.nonempty('<flavor-name>',
                                                  'a flavor name'),
                            help='name of the new flavor')
        parser.add_argument('--vcpus', type=int, required=True,
                            metavar='<vcpus>', help='number of vCPUs')
        parser.add_argument('--ram', type=int, required=True,
                            metavar='<size-mb>', help='memory in MB')
        parser.add_argument('--disk', type=int, required=True,
                            metavar='<size-gb>', help='root disk in GB')
        parser.add_argument('--ephemeral', type=int, default=0,
                            metavar='<size-gb>',
                            help='ephemeral disk in GB (default 0)')
        parser.add_argument('--swap', type=int, default=0,
                            metavar='<size-mb>',
                            help='swap in MB (default 0)')
        parser.add_argument('--id', metavar='<id>',
                            help='flavor ID (default: Nova picks a UUID)')
        parser.add_argument('--description', metavar='<description>',
                            help='flavor description')
        public = parser.add_mutually_exclusive_group()
        public.add_argument('--public', dest='public', action='store_true',
                            default=True, help='open to every project '
                            '(default)')
        public.add_argument('--private', dest='public', action='store_false',
                            help='only the projects given access may use it')
        parser.add_argument('--project', metavar='<project>',
                            type=options.nonempty('--project',
                                                  'a project name or ID'),
                            help='give this project (name or ID) access to '
                                 'the --private flavor')
        # Imported here: it pulls in keystoneclient, and OSC imports every
        # command module on every run of every openstack command.
        from openstackclient.identity import common as identity_common

        identity_common.add_project_domain_option_to_parser(parser)
        gpu = parser.add_argument_group(
            'GPU request', 'exactly one of --alias (repeatable), --vgpu or '
            '--baremetal')
        gpu.add_argument('--alias', metavar='<name[:count]>', action='append',
                         type=options.nonempty('--alias', 'a [pci] alias '
                                               'name, e.g. a30 or a30:2'),
                         default=[], help='PCI passthrough: a nova.conf '
                         '[pci] alias and how many devices (default 1)')
        gpu.add_argument('--vgpu', type=int, metavar='<count>',
                         help='vGPUs: resources:<class>=<count> from one '
                         'GPU, or, where each provider holds one vGPU '
                         '(SR-IOV VFs), <count> isolated request groups '
                         '(Nova 2026.1 or later)')
        gpu.add_argument('--vgpu-class', metavar='<class>',
                         type=options.nonempty('--vgpu-class',
                                               'a resource class'),
                         help='the vGPU resource class, if [mdev_<type>] '
                         'mdev_class names one (default VGPU)')
        gpu.add_argument('--vgpu-type', metavar='<type>',
                         type=options.nonempty('--vgpu-type',
                                               'a vGPU type name'),
                         help='vGPUs of this type (A40-2Q): requires the '
                         'type\'s label trait, and takes the class of the '
                         'GPUs labelled with it (see gpu host label)')
        gpu.add_argument('--baremetal', metavar='<class>',
                         type=options.nonempty('--baremetal',
                                               'a resource class'),
                         help='a whole bare-metal node of this Ironic '
                         'resource class (baremetal.gpu-h100, or '
                         'CUSTOM_BAREMETAL_GPU_H100): resources:<class>=1 '
                         'and VCPU, MEMORY_MB, DISK_GB 0; --trait picks '
                         'the GPU model')
        gpu.add_argument('--trait', metavar='<trait>', action='append',
                         type=options.nonempty('--trait', 'a trait name'),
                         default=[], help='require a trait on the host or '
                         'the vGPU GPU (repeatable)')
        gpu.add_argument('--forbid-trait', metavar='<trait>',
                         type=options.nonempty('--forbid-trait',
                                               'a trait name'),
                         action='append', default=[],
                         help='forbid a trait (repeatable)')
        gpu.add_argument('--numa-policy', choices=flavors.NUMA_POLICIES,
                         help='hw:pci_numa_affinity_policy')
        gpu.add_argument('--hide-hypervisor-id', action='store_true',
                         help='hw:hide_hypervisor_id=true, for consumer '
                         'cards such as the RTX 3090')
        parser.add_argument('--property', metavar='<key=value>',
                            action='append', default=[],
                            help='any other extra spec (repeatable)')
        options.add_nova_conf(parser, 'an alias it lacks is refused, and '
                              'the alias\'s class bounds the count')
        parser.add_argument('--dry-run', action='store_true',
                            help='check and show the flavor, create nothing '
                                 '(with the same permission checks)')
        return parser

    def take_action(self, args):
        cloud = self.app.client_manager.gpu
        if args.project and args.public:
            raise exceptions.CommandError(
                '--project goes with --private: a public flavor is open to '
                'every project')
        nova_conf = reading.load_nova_conf(args.nova_conf)
        found = None
        try:
            if args.vgpu_type and args.vgpu is None:
                raise flavors.InvalidFlavor(
                    '--vgpu-type goes with --vgpu COUNT')
            request = flavors.build_request(
                aliases=args.alias, vgpus=args.vgpu,
                vgpu_class=args.vgpu_class, traits=args.trait,
                forbidden=args.forbid_trait, numa_policy=args.numa_policy,
                hide_hypervisor_id=args.hide_hypervisor_id,
                properties=args.property, baremetal=args.baremetal)
            if request.vgpus is not None:
                found = reading.load(cloud)
                request = flavors.place_vgpus(
                    request, found, args.vgpu_type,
                    class_given=args.vgpu_class is not None)
            specs = flavors.extra_specs(request)
            flavors.check(specs)
        except flavors.InvalidFlavor as e:
            raise exceptions.CommandError(str(e))
        if request.vgpu_groups:
            flavor_ops.check_release(cloud, 'vgpu_request_groups', (
                '--vgpu %d: each %s provider holds one vGPU, so the flavor '
                'asks for %d request groups' % (
                    request.vgpus, request.vgpu_class, request.vgpus)))
        aliases = self._check_aliases(request, nova_conf)
        flavor_ops.check_free(cloud, args.name, args.id)
        pci_classes, vgpu_classes, warnings = flavor_ops.check_placement(
            cloud, request, specs, aliases, found)
        project_id = self._project_id(args)
        body = {'name': args.name, 'vcpus': args.vcpus, 'ram': args.ram,
                'disk': args.disk, 'OS-FLV-EXT-DATA:ephemeral': args.ephemeral,
                'swap': args.swap, 'os-flavor-access:is_public': args.public,
                'description': args.description}
        if args.id:
            body['id'] = args.id
        if args.dry_run:
            flavor = dict(body, id=args.id, extra_specs=specs)
        else:
            flavor = flavor_ops.create(cloud.compute, body, specs, project_id)
        for warning in warnings:
            print('warning: %s' % warning, file=self.app.stderr)
        if request.aliases and nova_conf is None:
            print('note: alias %s not checked against nova.conf (give '
                  '--nova-conf FILE to check it)' % ', '.join(
                      a.name for a in request.aliases), file=self.app.stderr)
        if args.dry_run:
            print('dry run: nothing was created', file=self.app.stderr)
        flavor['access_project_ids'] = [project_id] if project_id else []
        flavor['gpu_request'] = flavors.describe(
            flavor['extra_specs'], pci_classes, vgpu_classes)
        if aliases is not None:
            flavor['aliases'] = aliases
            return columns.record(FLAVOR_SHOW + (('Aliases', 'aliases'),),
                                  flavor)
        return columns.record(FLAVOR_SHOW, flavor)

    @staticmethod
    def _check_aliases(request, nova_conf):
        """The aliases as nova.conf defines them, or None without it."""
        if nova_conf is None:
            return None
        try:
            return flavors.check_aliases(request, nova_conf.aliases)
        except flavors.InvalidFlavor as e:
            if nova_conf.errors:   # a broken entry may be the one meant
                raise exceptions.CommandError(
                    '%s (%s has entries Nova refuses: see openstack gpu '
                    'config check)' % (e, ', '.join(nova_conf.paths)))
            raise exceptions.CommandError(str(e))

    def _project_id(self, args):
        if not args.project:
            return None
        # Imported here: it pulls in keystoneclient, and OSC imports every
        # command module on every run of every openstack command.
        from openstackclient.identity import common as identity_common

        return identity_common.find_project(
            self.app.client_manager.identity, args.project,
            args.project_domain).id

class ListFlavor(base.Lister):
    """List the flavors that ask for GPUs, and what they ask for.

    One row per flavor with a PCI alias or a vGPU (or a Nova-managed PCI
    class) in its extra specs: the GPU request in words, e.g. "1 × a30 (PCI
    passthrough)", "2 × VGPU", "requires trait CUSTOM_NVIDIA_11". A flavor
    that asks for a PCI class through resources: says how it goes wrong.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--long', action='store_true',
                            help='also whether it is public, ephemeral '
                                 'disk, swap, description and every extra '
                                 'spec')
        return parser

    def take_action(self, args):
        cloud = self.app.client_manager.gpu
        found = cloud.compute.flavors()
        pci_classes, vgpu_classes = flavor_ops.gpu_classes(cloud, found)
        # bare-metal nodes with GPUs (by inspection), by their class
        node_classes = {d.resource_class
                        for d in reading.baremetal_nodes(cloud)}
        rows = []
        for f in found:
            specs = f.get('extra_specs') or {}
            if flavors.asks_for_gpu(specs, pci_classes, vgpu_classes,
                                    node_classes):
                rows.append(dict(f, extra_specs=specs,
                                 gpu_request=flavors.describe(
                                     specs, pci_classes, vgpu_classes)))
        return columns.table(FLAVOR_LIST_LONG if args.long else FLAVOR_LIST,
                             sorted(rows, key=lambda r: r['name']),
                             empty=NO_GPU_FLAVORS)


# -- openstack gpu flavor capacity (F) ----------------------------------------
CAPACITY = (('Flavor', 'flavor'), ('Servers', 'servers'),
            ('Limited By', 'limited_by'))
CAPACITY_BY_HOST = (('Flavor', 'flavor'), ('Host', 'host'),
                    ('Servers', 'servers'), ('Limited By', 'limited_by'))


class FlavorCapacity(base.Lister):
    """How many more servers of each GPU flavor fit right now, and why no
    more.

    For each GPU flavor (or those named): the servers that still fit, per
    host (--by host) or in total, decided as Placement decides it: the
    flavor's vCPUs, RAM and disk on the host, its GPUs all of one request
    group from one provider (a 2-GPU alias flavor needs two devices), its
    traits, and each inventory's allocation ratio, reserved amount,
    min_unit, max_unit and step_size. Limited By names what runs out first:
    GPUs, VCPU, MEMORY_MB, DISK_GB, a unit rule or a trait. A PCI alias's
    resource class lives in nova.conf: read it with --nova-conf, else it is
    learned from a server of the flavor (and said so), else the flavor's
    capacity is unknown. Nova's filters beyond Placement (NUMA, PCI
    affinity, aggregates, images) may still refuse a host.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('flavor', metavar='<flavor>', nargs='*',
                            help='flavor name or ID (default: every GPU '
                                 'flavor)')
        options.add_host_option(parser)
        parser.add_argument('--by', choices=['flavor', 'host'],
                            default='flavor',
                            help='one row per flavor (default), or per '
                                 'flavor and host')
        options.add_nova_conf(parser, 'the [pci] aliases give passthrough '
                              'flavors their class')
        return parser

    def take_action(self, args):
        from gpuclient.model import capacity

        cloud = self.app.client_manager.gpu
        nova_conf = reading.load_nova_conf(args.nova_conf)
        all_flavors = cloud.compute.flavors()
        # every device: an alias may name a NIC or an NVMe drive too
        found = reading.load_with_nodes(cloud, args.host, all_devices=True)
        try:
            chosen = capacity.gpu_flavors(all_flavors, found, args.flavor)
        except capacity.BadFlavor as e:
            raise exceptions.CommandError(str(e))
        estimates = flavor_ops.estimate_capacity(
            cloud, found, chosen, nova_conf,
            warn=lambda line: print(line, file=self.app.stderr))
        by_host = args.by == 'host'
        return columns.table(CAPACITY_BY_HOST if by_host else CAPACITY,
                             capacity.rows(estimates, by_host),
                             empty=None if chosen else NO_GPU_FLAVORS)
