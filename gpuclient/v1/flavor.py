"""openstack gpu flavor create | list"""
from __future__ import annotations

from cliff import lister
from cliff import show
from osc_lib import exceptions

from gpuclient import flavors
from gpuclient import http
from gpuclient.v1 import columns
from gpuclient.v1 import device

FLAVOR_LIST = (('ID', 'id'), ('Name', 'name'), ('VCPUs', 'vcpus'),
               ('RAM', 'ram'), ('Disk', 'disk'),
               ('Is Public', 'os-flavor-access:is_public'),
               ('GPU Request', 'gpu_request'))
_DETAIL = (('Ephemeral', 'OS-FLV-EXT-DATA:ephemeral'), ('Swap', 'swap'),
           ('Description', 'description'))
FLAVOR_LIST_LONG = FLAVOR_LIST + _DETAIL + (('Extra Specs', 'extra_specs'),)
FLAVOR_SHOW = FLAVOR_LIST + _DETAIL + (
    ('Access Project IDs', 'access_project_ids'),
    ('Extra Specs', 'extra_specs'))


def gpu_classes(cloud, specs_list) -> tuple[set[str], set[str]]:
    """(Nova-managed PCI classes, vGPU classes), from Placement only where
    the specs need it."""
    if not flavors.needs_placement(specs_list):
        return set(), {flavors.VGPU}
    return flavors.gpu_classes(device.load(cloud))


class CreateFlavor(show.ShowOne):
    """Create a GPU flavor in one checked step.

    The flavor asks for passthrough GPUs by the nova.conf [pci] alias
    (--alias a30, --alias a100:2) or for vGPUs (--vgpu 1); traits pick a
    GPU type. Before anything is written the request is checked: the
    recipes Nova rejects or mis-schedules (hw:kvm_hidden, a flavor
    hw_machine_type, a resources: spec for a Nova-managed PCI class) are
    refused with what to do instead, traits and classes must exist in
    Placement, and the name must be free. The extra specs are written at
    compute API 2.86, where Nova validates them; if Nova refuses them the
    flavor is deleted again.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('name', metavar='<flavor-name>')
        parser.add_argument('--vcpus', type=int, required=True,
                            metavar='<vcpus>')
        parser.add_argument('--ram', type=int, required=True,
                            metavar='<size-mb>', help='memory in MB')
        parser.add_argument('--disk', type=int, required=True,
                            metavar='<size-gb>', help='root disk in GB')
        parser.add_argument('--ephemeral', type=int, default=0,
                            metavar='<size-gb>')
        parser.add_argument('--swap', type=int, default=0,
                            metavar='<size-mb>')
        parser.add_argument('--id', metavar='<id>',
                            help='flavor ID (default: Nova picks a UUID)')
        parser.add_argument('--description', metavar='<description>')
        public = parser.add_mutually_exclusive_group()
        public.add_argument('--public', dest='public', action='store_true',
                            default=True, help='open to every project '
                            '(default)')
        public.add_argument('--private', dest='public', action='store_false')
        parser.add_argument('--project', metavar='<project>',
                            help='give this project (name or ID) access to '
                                 'the --private flavor')
        parser.add_argument('--project-domain', metavar='<project-domain>',
                            help='domain of --project (name or ID)')
        gpu = parser.add_argument_group(
            'GPU request', 'exactly one of --alias (repeatable) or --vgpu')
        gpu.add_argument('--alias', metavar='<name[:count]>', action='append',
                         default=[], help='PCI passthrough: a nova.conf '
                         '[pci] alias and how many devices (default 1)')
        gpu.add_argument('--vgpu', type=int, metavar='<count>',
                         help='vGPUs, all from one physical GPU '
                         '(resources:VGPU=<count>)')
        gpu.add_argument('--vgpu-class', metavar='<class>',
                         help='the vGPU resource class, if [mdev_<type>] '
                         'mdev_class names one (default VGPU)')
        gpu.add_argument('--trait', metavar='<trait>', action='append',
                         default=[], help='require a trait on the host or '
                         'the vGPU GPU (repeatable)')
        gpu.add_argument('--forbid-trait', metavar='<trait>',
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
        parser.add_argument('--dry-run', action='store_true',
                            help='check and show the flavor, create nothing')
        return parser

    def take_action(self, args):
        cloud = self.app.client_manager.gpu
        if args.project and args.public:
            raise exceptions.CommandError(
                '--project goes with --private: a public flavor is open to '
                'every project')
        try:
            request = flavors.build_request(
                aliases=args.alias, vgpus=args.vgpu,
                vgpu_class=args.vgpu_class, traits=args.trait,
                forbidden=args.forbid_trait, numa_policy=args.numa_policy,
                hide_hypervisor_id=args.hide_hypervisor_id,
                properties=args.property)
            specs = flavors.extra_specs(request)
            flavors.check(specs)
        except flavors.InvalidFlavor as e:
            raise exceptions.CommandError(str(e))
        self._check_free(cloud, args.name, args.id)
        pci_classes, vgpu_classes, warnings = self._check_placement(
            cloud, request, specs)
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
            flavor = self._create(cloud.compute, body, specs, project_id)
        for warning in warnings:
            print('warning: %s' % warning, file=self.app.stderr)
        if args.dry_run:
            print('dry run: nothing was created', file=self.app.stderr)
        flavor['access_project_ids'] = [project_id] if project_id else []
        flavor['gpu_request'] = flavors.describe(
            flavor['extra_specs'], pci_classes, vgpu_classes)
        return columns.record(FLAVOR_SHOW, flavor)

    @staticmethod
    def _check_free(cloud, name, flavor_id):
        for f in cloud.compute.flavors():
            if f['name'] == name:
                raise exceptions.CommandError(
                    'a flavor named %r exists already (ID %s)'
                    % (name, f['id']))
            if flavor_id and f['id'] == flavor_id:
                raise exceptions.CommandError(
                    'flavor ID %r is taken by flavor %r' % (flavor_id,
                                                            f['name']))

    @staticmethod
    def _check_placement(cloud, request, specs):
        """Traits and classes against Placement: (PCI classes, vGPU
        classes, warnings); errors raise."""
        custom_vgpu = request.vgpus and request.vgpu_class != flavors.VGPU
        device.check_names_exist(
            cloud, request.vgpu_class if custom_vgpu else None,
            request.required + request.forbidden)
        if not (request.required or flavors.needs_placement([specs])):
            return set(), {flavors.VGPU}, []
        found = device.load(cloud)
        pci_classes, vgpu_classes = flavors.gpu_classes(found)
        holders = dict(http.gather(
            lambda t: (t, cloud.placement.providers(required=t)),
            request.required))
        try:
            if custom_vgpu:
                flavors.check_vgpu_class(request.vgpu_class, pci_classes)
            flavors.check(specs, pci_classes)
            warnings = flavors.trait_findings(request, found, holders)
        except flavors.InvalidFlavor as e:
            raise exceptions.CommandError(str(e))
        return pci_classes, vgpu_classes, warnings

    def _project_id(self, args):
        if not args.project:
            return None
        # Imported here: it pulls in keystoneclient, and OSC imports every
        # command module on every run of every openstack command.
        from openstackclient.identity import common as identity_common

        return identity_common.find_project(
            self.app.client_manager.identity, args.project,
            args.project_domain).id

    @staticmethod
    def _create(compute, body, specs, project_id):
        """Create, give access, write the extra specs; on any failure after
        the create, delete the flavor again: nothing half-made remains."""
        flavor = compute.create_flavor(body)
        try:
            if project_id:
                compute.add_flavor_access(flavor['id'], project_id)
            flavor['extra_specs'] = compute.set_extra_specs(flavor['id'],
                                                            specs)
        except BaseException as e:
            try:
                compute.delete_flavor(flavor['id'])
            except http.CloudError as left:
                raise exceptions.CommandError(
                    '%s; deleting the half-made flavor %s failed too (%s): '
                    'delete it by hand' % (e, flavor['id'], left)) from None
            if isinstance(e, http.CloudError):
                raise exceptions.CommandError(
                    '%s; flavor %s deleted again, nothing was created'
                    % (e, body['name'])) from None
            raise
        return flavor


class ListFlavor(lister.Lister):
    """List the flavors that ask for GPUs, and what they ask for.

    One row per flavor with a PCI alias or a vGPU (or a Nova-managed PCI
    class) in its extra specs: the GPU request in words, e.g. "1 × a30 (PCI
    passthrough)", "2 × VGPU", "requires trait CUSTOM_NVIDIA_11". A flavor
    that asks for a PCI class through resources: says how it goes wrong.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--long', action='store_true',
                            help='also ephemeral disk, swap, description '
                                 'and every extra spec')
        return parser

    def take_action(self, args):
        cloud = self.app.client_manager.gpu
        found = cloud.compute.flavors()
        pci_classes, vgpu_classes = gpu_classes(
            cloud, [f.get('extra_specs') or {} for f in found])
        rows = []
        for f in found:
            specs = f.get('extra_specs') or {}
            if flavors.asks_for_gpu(specs, pci_classes, vgpu_classes):
                rows.append(dict(f, extra_specs=specs,
                                 gpu_request=flavors.describe(
                                     specs, pci_classes, vgpu_classes)))
        return columns.table(FLAVOR_LIST_LONG if args.long else FLAVOR_LIST,
                             sorted(rows, key=lambda r: r['name']))
