"""openstack gpu trait tag | untag"""
from __future__ import annotations

from osc_lib import exceptions

from gpuclient.model import traits
from gpuclient.operations import reading
from gpuclient.operations import writes
from gpuclient.v1 import base
from gpuclient.v1 import columns
from gpuclient.v1 import options

RESULT = (('Host', 'host'), ('Address', 'address'),
          ('Traits Before', 'before'), ('Traits After', 'after'),
          ('Result', 'result'))


class TagTrait(base.Lister):
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
                            type=options.DEVICE,
                            help=options.SELECTOR_HELP + ' (repeat for '
                            'several)')
        parser.add_argument('--host', metavar='<host>', type=options.HOST,
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
            reading.check_names_exist(cloud, traits=[trait])
        found = writes.select(cloud, args.device, args.host, args.model,
                              args.resource_class)
        rows = writes.change_traits(cloud.placement, found, trait, self.tag,
                                    args.transient)
        failed = [r for r in rows if r.get('failed')]
        return columns.table(RESULT, rows, failure=failed and (
            '%d of %d GPUs could not be changed: see the Result column'
            % (len(failed), len(rows))))


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
