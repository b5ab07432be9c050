"""openstack gpu flavor create | list | capacity"""
from __future__ import annotations

from cliff import lister
from cliff import show
from osc_lib import exceptions

from gpuclient.model import flavors
from gpuclient.access import http
from gpuclient.v1 import columns
from gpuclient.v1 import device
from gpuclient.v1 import options

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


def gpu_classes(cloud, found) -> tuple[set[str], set[str]]:
    """(Nova-managed PCI classes, vGPU classes) among the custom classes
    the flavors `found` name, each judged by who holds it (see
    flavors.judge_class): the providers with room for one more (one
    listing per class); for a class none has room for, the allocation of
    one server of a flavor naming it; only if neither tells, every
    device's classes (the whole scan)."""
    from gpuclient.access import placement as placement_api

    specs = {f['id']: f.get('extra_specs') or {} for f in found}
    asked = flavors.classes_to_judge(specs.values())
    if not asked:
        return set(), {flavors.VGPU}
    placement = cloud.placement
    holders = http.gather(placement.with_room_for, asked)
    # Nova's PCI providers are listed only if a device may hold a class (an
    # Ironic node is a root; a class Placement lacks has no holder).
    pci_managed = {p['uuid'] for p in placement.holders(
        placement_api.PCI_DEVICE_TRAIT)} if any(
            h == [] or any(p['parent_provider_uuid'] for p in h or ())
            for h in holders) else set()
    verdicts = dict(zip(asked, (flavors.judge_class(rc, h, pci_managed)
                                for rc, h in zip(asked, holders))))
    unknown = [rc for rc, verdict in verdicts.items() if verdict is None]
    verdicts.update(zip(unknown, http.gather(
        lambda rc: _judge_by_allocation(cloud, rc, pci_managed, [
            fid for fid, s in specs.items()
            if rc in flavors.custom_classes(s)]), unknown)))
    if None in verdicts.values():
        return flavors.gpu_classes(device.load(cloud))
    return ({rc for rc, v in verdicts.items() if v == 'pci'},
            {flavors.VGPU} | {rc for rc, v in verdicts.items()
                              if v == flavors.VGPU})


def _judge_by_allocation(cloud, rc, pci_managed, flavor_ids):
    """judge_class of the providers that hold `rc` for a server of one of
    the flavors (the first one with a server that holds it), or None."""
    placement = cloud.placement
    for flavor_id in flavor_ids:
        server = cloud.compute.a_server(flavor=flavor_id)
        if server is None:
            continue
        held = placement.consumer_allocations(server['id'])['allocations']
        providers = []
        for uuid, allocation in held.items():
            if rc in allocation['resources']:
                try:
                    providers.append(placement.provider(uuid))
                except http.NotFound:   # deleted since
                    pass
        verdict = flavors.judge_class(rc, providers, pci_managed)
        if verdict is not None:
            return verdict
    return None


class CreateFlavor(show.ShowOne):
    """Create a GPU flavor in one checked step.

    The flavor asks for passthrough GPUs by the nova.conf [pci] alias
    (--alias a30, --alias a100:2) or for vGPUs (--vgpu 1); traits pick a
    GPU type. Before anything is written the request is checked: the
    recipes Nova rejects or mis-schedules (hw:kvm_hidden, a flavor
    hw_machine_type, a resources: spec for a Nova-managed PCI class) are
    refused with what to do instead, traits and classes must exist in
    Placement, and the name must be free. A count no host can ever give is
    refused: more devices than one host has (of the alias's class with
    --nova-conf, else of any one GPU class), more vGPUs than one GPU's
    max_unit, or more than 64 of anything. With --nova-conf an alias
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
        parser.add_argument('--project-domain', metavar='<project-domain>',
                            help='domain of --project (name or ID)')
        gpu = parser.add_argument_group(
            'GPU request', 'exactly one of --alias (repeatable) or --vgpu')
        gpu.add_argument('--alias', metavar='<name[:count]>', action='append',
                         type=options.nonempty('--alias', 'a [pci] alias '
                                               'name, e.g. a30 or a30:2'),
                         default=[], help='PCI passthrough: a nova.conf '
                         '[pci] alias and how many devices (default 1)')
        gpu.add_argument('--vgpu', type=int, metavar='<count>',
                         help='vGPUs, all from one physical GPU '
                         '(resources:VGPU=<count>)')
        gpu.add_argument('--vgpu-class', metavar='<class>',
                         type=options.nonempty('--vgpu-class',
                                               'a resource class'),
                         help='the vGPU resource class, if [mdev_<type>] '
                         'mdev_class names one (default VGPU)')
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
        nova_conf = load_nova_conf(args.nova_conf)
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
        aliases = self._check_aliases(request, nova_conf)
        self._check_free(cloud, args.name, args.id)
        pci_classes, vgpu_classes, warnings = self._check_placement(
            cloud, request, specs, aliases)
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
    def _check_placement(cloud, request, specs, aliases=None):
        """Traits, classes and counts against Placement: (PCI classes,
        vGPU classes, warnings); errors raise.

        Always reads the devices, which takes GET /os-hypervisors and
        Placement's provider listing: admin-only by default policy, as
        creating a flavor is, so a --dry-run is refused where the create
        would be."""
        custom_vgpu = request.vgpus and request.vgpu_class != flavors.VGPU
        device.check_names_exist(
            cloud, request.vgpu_class if custom_vgpu else None,
            request.required + request.forbidden)
        found = device.load(cloud)
        pci_classes, vgpu_classes = flavors.gpu_classes(found)
        holders = dict(http.gather(
            lambda t: (t, cloud.placement.providers(required=t)),
            request.required))
        try:
            flavors.check_bounds(request, found, aliases and {
                a['name']: a['resource_class'] for a in aliases})
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
        pci_classes, vgpu_classes = gpu_classes(cloud, found)
        rows = []
        for f in found:
            specs = f.get('extra_specs') or {}
            if flavors.asks_for_gpu(specs, pci_classes, vgpu_classes):
                rows.append(dict(f, extra_specs=specs,
                                 gpu_request=flavors.describe(
                                     specs, pci_classes, vgpu_classes)))
        return columns.table(FLAVOR_LIST_LONG if args.long else FLAVOR_LIST,
                             sorted(rows, key=lambda r: r['name']))


# -- openstack gpu flavor capacity (F) ----------------------------------------
CAPACITY = (('Flavor', 'flavor'), ('Servers', 'servers'),
            ('Limited By', 'limited_by'))
CAPACITY_BY_HOST = (('Flavor', 'flavor'), ('Host', 'host'),
                    ('Servers', 'servers'), ('Limited By', 'limited_by'))


def estimate_capacity(cloud, found, chosen, nova_conf=None, servers=None,
                      roots=None, *, warn):
    """capacity.estimate of the flavors `chosen`, each warning passed to
    warn().

    Reads, beyond the devices `found`: each relevant host root's
    inventories and usages, the providers of each trait asked about, and
    (if a passthrough flavor's alias class must be learned and `servers`
    is None) one server listing; `roots` {root name: uuid}, if None, one
    provider listing.
    """
    from gpuclient.model import capacity

    placement = cloud.placement
    if (servers is None and nova_conf is None
            and any(capacity.alias_names(f) for f in chosen)):
        servers = cloud.compute.servers()
    needs = capacity.needs(chosen, found, nova_conf, servers, warn)
    asked = [n for n in needs.values() if isinstance(n, capacity.Need)]
    by_root = capacity.roots_asked(asked, found)
    if roots is None and by_root:
        roots = {p['name']: p['uuid'] for p in placement.providers()
                 if not p['parent_provider_uuid']}
    names = [r for r in by_root if r in (roots or {})]
    traits = sorted({capacity.DISABLED}.union(*(n.traits() for n in asked)))
    holders = {t: {p['uuid'] for p in providers} for t, providers in zip(
        traits, http.gather(placement.holders, traits))}
    reads = http.gather(
        lambda r: (placement.inventories(roots[r])['inventories'],
                   placement.usages(roots[r])['usages']), names)
    hosts = [capacity.host(by_root[r], roots[r], inventories, usages, holders)
             for r, (inventories, usages) in zip(names, reads)]
    return capacity.estimate(needs, hosts, found, warn)


class FlavorCapacity(lister.Lister):
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
        device.add_host_option(parser)
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
        nova_conf = load_nova_conf(args.nova_conf)
        all_flavors = cloud.compute.flavors()
        # every device: an alias may name a NIC or an NVMe drive too
        found = device.load(cloud, args.host, all_devices=True)
        try:
            chosen = capacity.gpu_flavors(all_flavors, found, args.flavor)
        except capacity.BadFlavor as e:
            raise exceptions.CommandError(str(e))
        estimates = estimate_capacity(
            cloud, found, chosen, nova_conf,
            warn=lambda line: print(line, file=self.app.stderr))
        by_host = args.by == 'host'
        return columns.table(CAPACITY_BY_HOST if by_host else CAPACITY,
                             capacity.rows(estimates, by_host))


def load_nova_conf(paths):
    if not paths:
        return None
    from gpuclient.hostconfig import novaconf

    try:
        return novaconf.load(paths)
    except novaconf.ConfigError as e:
        raise exceptions.CommandError(str(e))
