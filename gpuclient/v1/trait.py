"""openstack gpu trait tag | untag"""
from __future__ import annotations

from cliff import lister
from osc_lib import exceptions

from gpuclient.model import devices
from gpuclient.access import http
from gpuclient.model import traits
from gpuclient.v1 import columns
from gpuclient.v1 import device as device_cmd
from gpuclient.v1 import options

DEVICE = options.nonempty('<device>', device_cmd.SELECTOR_HELP)
HOST = options.nonempty('--host', 'a compute host name')
RESULT = (('Host', 'host'), ('Address', 'address'),
          ('Traits Before', 'before'), ('Traits After', 'after'),
          ('Result', 'result'))


def find_named(cloud, selectors, with_traits=False) -> list[devices.Device]:
    """The devices named, once each, every name resolved and checked
    before anything is written: a Cyborg-managed device or a VF refuses
    the whole command in one line (shared with reserved reset)."""
    found = {}
    for selector in selectors:
        d = device_cmd.find(cloud, selector, with_traits)
        why = traits.unwritable(d, selector)
        if why:
            raise exceptions.CommandError(why)
        found.setdefault(d.provider_uuid, d)
    return list(found.values())


def writable(found: list[devices.Device], selection: str
             ) -> list[devices.Device]:
    """The GPUs among the devices a selection (--host, --all, ...) found
    that the plugin may write to; if Cyborg manages all of them, the one
    line that says so."""
    gpus = [d for d in found if d.is_gpu]
    kept = [d for d in gpus if not traits.unwritable(d)]
    if gpus and not kept:
        raise exceptions.CommandError(traits.cyborg_refusal(
            'the %d GPU(s) %s selects are' % (len(gpus), selection),
            'their'))
    return kept


def select(cloud, args) -> list[devices.Device]:
    """The devices named, or the GPUs of --host/--model/--resource-class,
    with their traits; every name resolved before anything is written."""
    filtered = args.host or args.model or args.resource_class
    if args.device and filtered:
        raise exceptions.CommandError(
            'name devices or select them with --host, --model and '
            '--resource-class, not both')
    if args.device:
        return find_named(cloud, args.device, with_traits=True)
    if not filtered:
        raise exceptions.CommandError(
            'name the GPUs (<device>...) or select them with --host, '
            '--model or --resource-class')
    device_cmd.check_names_exist(cloud, args.resource_class)
    device_cmd.check_model(args.model)
    filters = devices.Filters(resource_class=args.resource_class,
                              model=args.model)
    selection = ' '.join('%s %s' % (option, value) for option, value in (
        ('--host', args.host), ('--model', args.model),
        ('--resource-class', args.resource_class)) if value)
    found = writable([d for d in device_cmd.load(cloud, args.host,
                                                 with_traits=True)
                      if filters.match(d)], selection)
    if not found:
        raise exceptions.CommandError('no GPU matches %s' % selection)
    return found


def change_traits(placement, found: list[devices.Device], trait: str,
                  tag: bool, transient: bool) -> list[dict]:
    """Add (tag) or remove `trait` on each device's provider, keeping every
    other trait: one row per device.

    Devices whose traits Nova manages (PCI in Placement) are refused, all
    of them before anything is written, unless `transient`. Each provider
    is read and written at one generation; a write in between is re-read
    and re-applied (placement.read_modify_write), so no one's trait is lost.
    """
    def managed(d):
        return d.kind == devices.PASSTHROUGH

    refused = [d for d in found if traits.refused(
        d.traits or (), trait, tag, managed(d), transient)]
    if refused:
        raise exceptions.CommandError(traits.refusal(refused, trait, tag))
    if tag and any(traits.changed(d.traits or (), trait, tag) is not None
                   for d in found):
        placement.create_trait(trait)   # PUT: a no-op if it exists

    def one(d):
        row = dict(host=d.host, address=d.address, before=d.traits,
                   after=d.traits)
        try:
            body, written = placement.read_modify_write(
                lambda: placement.traits(d.provider_uuid),
                lambda body: traits.changed(body['traits'], trait, tag),
                lambda generation, new: placement.put_traits(
                    d.provider_uuid, generation, new))
        except http.CloudError as e:
            return dict(row, result='failed: %s' % e, failed=True)
        before = sorted(body['traits'])
        return dict(row, before=before,
                    after=sorted(written['traits']) if written else before,
                    result=traits.result(tag, written is not None,
                                         managed(d)))

    return http.gather(one, found)


class TagTrait(columns.FailsAfterOutput, lister.Lister):
    """Label GPUs with a custom trait, keeping every trait they have.

    Adds TRAIT (created if Placement does not know it) to each GPU's
    resource provider, on the provider generation it read: a concurrent
    write is re-read and re-applied, and no other trait is lost (unlike
    "resource provider trait set", which replaces the whole list). vGPU
    GPUs keep the label, and vGPU flavors pick it with
    trait:TRAIT=required. Nova owns the traits of PCI-in-Placement devices
    and drops a hand-set one when it refreshes its provider cache (every
    300 s by default): they are refused, with the lasting [pci]
    device_spec setting, unless --transient. One row per GPU; exits 1 if
    any could not be changed.
    """
    tag = True
    transient_help = ("also PCI-in-Placement devices, until Nova's next "
                      'provider refresh')

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('trait', metavar='<trait>',
                            type=options.nonempty('<trait>', 'a trait name'),
                            help='a custom trait, e.g. CUSTOM_NVIDIA_35: '
                                 'upper-case letters, digits and underscores '
                                 'after the CUSTOM prefix')
        parser.add_argument('device', metavar='<device>', nargs='*',
                            type=DEVICE,
                            help=device_cmd.SELECTOR_HELP + ' (repeat for '
                            'several)')
        parser.add_argument('--host', metavar='<host>', type=HOST,
                            help='every GPU of this compute host')
        parser.add_argument('--model', metavar='<model>',
                            type=options.nonempty('--model', 'a GPU model'),
                            help='every GPU of this model (e.g. A100)')
        parser.add_argument('--resource-class', metavar='<class>',
                            type=options.nonempty('--resource-class',
                                                  'a resource class'),
                            help='every GPU of this class (e.g. VGPU)')
        parser.add_argument('--transient', action='store_true',
                            help=self.transient_help)
        return parser

    def take_action(self, args):
        try:
            trait = traits.validate(args.trait)
        except traits.BadTraitName as e:
            raise exceptions.CommandError(str(e))
        cloud = self.app.client_manager.gpu
        if not self.tag:
            device_cmd.check_names_exist(cloud, traits=[trait])
        rows = change_traits(cloud.placement, select(cloud, args), trait,
                             self.tag, args.transient)
        failed = [r for r in rows if r.get('failed')]
        if failed:
            self.failure = ('%d of %d GPUs could not be changed: see the '
                            'Result column' % (len(failed), len(rows)))
        return columns.table(RESULT, rows)


class UntagTrait(TagTrait):
    """Remove a custom trait from GPUs, keeping every other trait.

    Removes TRAIT from each GPU's resource provider on the generation it
    read, re-reading on a concurrent write; every other trait stays. A
    PCI-in-Placement device is refused unless --transient: Nova puts back
    the traits its [pci] device_spec entry lists at its next provider
    refresh, so the lasting way is to take the trait out of device_spec.
    One row per GPU; exits 1 if any could not be changed.
    """
    tag = False
    transient_help = ("also PCI-in-Placement devices (a trait their "
                      "device_spec lists comes back at Nova's next provider "
                      'refresh)')
