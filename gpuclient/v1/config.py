"""openstack gpu config generate | check

Both run where the files are (a compute host, a deployment node) and need
no cloud: auth_required = False tells OSC not to ask for credentials
(osc_lib.shell.prepare_to_run_command skips auth validation).
"""
from __future__ import annotations

from osc_lib import exceptions

from gpuclient.operations import reading
from gpuclient.v1 import base
from gpuclient.v1 import columns
from gpuclient.v1 import options

GENERATE = (('compute', 'compute'), ('controller', 'controller'),
            ('devices', 'devices'), ('placement', 'placement'),
            ('sriov_gpus', 'sriov_gpus'), ('vgpu_types', 'vgpu_types'),
            ('warnings', 'warnings'))
CHECK = (('Level', 'level'), ('Where', 'where'), ('Problem', 'problem'))
_HEADINGS = {
    'compute': '# nova-compute.conf of this host (kolla-ansible: '
               '/etc/kolla/config/nova/nova-compute.conf)',
    'controller': '# nova.conf of every Nova service: [pci] alias for '
                  'nova-api and the computes, pci_in_placement for nova-api, '
                  'the scheduler and conductors (kolla-ansible: '
                  '/etc/kolla/config/nova.conf)'}


def _release_type(text):
    from gpuclient.model import releases

    try:
        return releases.check(text.strip())
    except ValueError as e:
        raise exceptions.CommandError('--release: %s' % e)


def _add_release(parser, what):
    parser.add_argument('--release', metavar='<release>', type=_release_type,
                        help='%s this OpenStack release (2024.1 to 2026.2); '
                             'default: the cloud\'s, asked of its Nova when '
                             'credentials are given, else the newest' % what)


def _release(app, given):
    """(the releases the cloud may run, a line saying how that was told)."""
    from gpuclient.model import releases

    if given:
        return (given,), None
    manager = app.client_manager
    config = manager._cli_options.config
    if not ((config.get('auth') or {}).get('auth_url')
            or config.get('auth_type') == 'none'):
        return (releases.NEWEST,), (
            'checked against %s, the newest release: give --release, or '
            'credentials to ask the cloud' % releases.NEWEST)
    # auth_required = False made OSC load no auth plugin: do what its shell
    # does for a command that needs one (osc_lib/shell.py
    # prepare_to_run_command), now that the cloud is to be asked.
    manager._cli_options = app.cloud_config.get_one(
        cloud=app.options.cloud, argparse=app.options, validate=True)
    manager._auth_required = True
    manager.setup_auth()
    found, version = reading.cloud_release(manager.gpu)
    return found, ('checked against %s: the cloud\'s compute API goes up '
                   'to %s' % (releases.words(found), version))


class GenerateConfig(base.ShowOne):
    """Print the nova.conf GPU settings for this host's hardware.

    Reads /sys (or --sysfs DIR, a copy of it) and prints, as nova.conf
    text, the compute host's settings ([pci] device_spec, one per
    vendor:product, the VFs instead of their PF when VFs are enabled;
    [devices] and [mdev_<type>] for vGPU-capable GPUs; under NVIDIA's
    variant driver, the VFs given a vGPU type, `managed: no`, a class per
    type, and the unit that sets their type at boot) and the
    controllers' ([pci] alias with the device_type the hardware has,
    [filter_scheduler] pci_in_placement). What will not work as the host
    stands (IOMMU off, drivers, shared IOMMU groups, audio functions left
    on the host) is printed on stderr. The compute block ends with the
    providers Placement will show once Nova runs with it (as comments).
    -c compute or -c controller prints one block; -f json/yaml give the
    same as data, with the devices read and those providers.
    """

    auth_required = False

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--sysfs', metavar='<dir>', default='/sys',
                            type=options.nonempty('--sysfs', 'a directory '
                                                  'laid out as /sys'),
                            help='a directory laid out as /sys, e.g. a copy '
                                 'taken from a host (default: /sys)')
        parser.add_argument('--vendor-id', metavar='<id>', action='append',
                            default=[], help='only GPUs of this PCI vendor '
                            '(e.g. 10de; repeatable)')
        parser.add_argument('--one-time-use', action='store_true',
                            help='mark passthrough GPUs one_time_use (not '
                                 'VFs: Nova refuses it there)')
        parser.add_argument('--live-migratable', action='store_true',
                            help='mark devices live_migratable and make the '
                                 'aliases ask for such devices (Nova then '
                                 'needs libvirt >= 10.0.0 and QEMU >= 8.2.2)')
        parser.add_argument('--alias-prefix', metavar='<prefix>', default='',
                            help='put this before each alias name')
        parser.add_argument('--resource-class', metavar='<vendor:product='
                            'class>', action='append', default=[],
                            help='report these devices with this resource '
                            'class (e.g. 10de:20b0=CUSTOM_A100; the alias '
                            'asks for it; repeatable)')
        parser.add_argument('--trait', metavar='<vendor:product=trait>',
                            action='append', default=[],
                            help='give these devices this trait in Placement '
                            '(e.g. 10de:20b0=CUSTOM_NVLINK; repeatable)')
        parser.add_argument('--mdev-type', metavar='<type>', action='append',
                            default=[], help='enable this mdev type (e.g. '
                            'nvidia-11; repeatable, GPUs are shared between '
                            'them); default: the first type each GPU lists')
        _add_release(parser, 'write the settings, and predict the '
                             'providers, of')
        return parser

    def take_action(self, args):
        from gpuclient.hostconfig import nova_settings

        for vendor in args.vendor_id:
            if not _is_hex_id(vendor):
                raise exceptions.CommandError(
                    '--vendor-id %r: a PCI vendor id is 4 hex digits, e.g. '
                    '10de' % vendor)
        classes = dict(_per_device('--resource-class', text)
                       for text in args.resource_class)
        traits = {}
        for text in args.trait:
            pci_id, trait = _per_device('--trait', text)
            traits.setdefault(pci_id, []).append(trait)
        host = reading.load_sysfs(args.sysfs)
        release, told = _release(self.app, args.release)
        try:
            # of two releases that share a compute API, the older
            found = nova_settings.generate(
                host, vendor_ids=args.vendor_id,
                one_time_use=args.one_time_use,
                live_migratable=args.live_migratable,
                alias_prefix=args.alias_prefix, mdev_types=args.mdev_type,
                classes=classes, traits=traits, release=release[0])
        except ValueError as e:
            raise exceptions.CommandError(str(e))
        if told and len(release) > 1:
            found.warnings.append(
                '%s: the settings and providers are %s\'s' % (told,
                                                             release[0]))
        # The table view is nova.conf text (what an operator pastes); every
        # other format is the data.
        wanted = args.columns or ['compute', 'controller']
        text = ''
        for name in ('compute', 'controller'):
            try:
                ini = nova_settings.ini(getattr(found, name))
                if name == 'compute' and ini:
                    ini += nova_settings.placement_text(found.placement,
                                                        release[0])
            except ValueError as e:
                raise exceptions.CommandError(str(e))
            if name == 'compute' and ini:
                ini += nova_settings.sriov_unit(found.sriov_gpus)
                ini += nova_settings.vgpu_type_unit(found.vgpu_types)
            if name in wanted and ini:
                text += '%s\n%s\n' % (_HEADINGS[name], ini)
        return columns.record(GENERATE, {
            'compute': nova_settings.as_data(found.compute),
            'controller': nova_settings.as_data(found.controller),
            'devices': found.devices, 'placement': found.placement,
            'sriov_gpus': found.sriov_gpus, 'vgpu_types': found.vgpu_types,
            'warnings': found.warnings}, dict(instead=text, note='\n'.join(
                'warning: %s' % w for w in found.warnings) or None))

    def produce_output(self, parsed_args, column_names, data):
        if parsed_args.formatter != 'table':
            return super().produce_output(parsed_args, column_names, data)
        self.app.stdout.write(data.instead)
        if data.note:
            self.app.stderr.write(data.note + '\n')
        return 0


class CheckConfig(base.Lister):
    """Check nova.conf files for the GPU settings mistakes Nova punishes.

    The files are read together, as oslo.config reads several
    --config-file (repeated keys add up; deprecated names count). One row
    per problem with its fix: values Nova refuses (malformed JSON, unknown
    keys), deprecated names, pci_in_placement without report_in_placement,
    aliases asking for a class or trait no device_spec reports, repeated
    alias names, one_time_use without report_in_placement; with --sysfs
    also a PF matched together with its VFs, one_time_use on a VF and an
    alias device_type the hardware does not have. Exits 1 if there is an
    error, 0 when clean (warnings alone do not fail).
    """

    auth_required = False

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('files', metavar='<file>', nargs='+',
                            type=options.nonempty('<file>',
                                                  'a nova.conf path'),
                            help='nova.conf files, in the order the service '
                                 'reads them')
        parser.add_argument('--sysfs', metavar='<dir>',
                            type=options.nonempty('--sysfs', 'a directory '
                                                  'laid out as /sys'),
                            help='also check against this host\'s hardware: '
                                 '/sys or a copy of it')
        _add_release(parser, 'check against')
        return parser

    def take_action(self, args):
        from gpuclient.hostconfig import nova_checks
        from gpuclient.hostconfig import novaconf

        try:
            conf = novaconf.load(args.files)
        except novaconf.ConfigError as e:
            raise exceptions.CommandError(str(e))
        host = reading.load_sysfs(args.sysfs) if args.sysfs else None
        release, told = _release(self.app, args.release)
        found = nova_checks.check(conf, host, release)
        errors = sum(f.level == nova_checks.ERROR for f in found)
        # the verdict says which release's rules it applied
        files = ', '.join(args.files)
        suffix = ' (%s)' % told if told else ''
        if not found:
            note = 'no problems found in %s%s' % (files, suffix)
        else:
            note = told if told and not errors else None
        return columns.table(
            CHECK, found,
            failure=errors and '%d error%s in %s%s' % (
                errors, '' if errors == 1 else 's', files, suffix),
            note=note)


def _per_device(option, text):
    """('10de:20b0', 'CUSTOM_A100') from '10de:20b0=CUSTOM_A100'."""
    pci_id, _, value = text.partition('=')
    vendor, _, product = pci_id.strip().lower().partition(':')
    if not (_is_hex_id(vendor) and _is_hex_id(product) and value.strip()
            and ',' not in value):
        raise exceptions.CommandError(
            '%s %r: write VENDOR:PRODUCT=NAME, e.g. 10de:20b0=CUSTOM_A100'
            % (option, text))
    return '%s:%s' % (vendor, product), value.strip()


def _is_hex_id(text):
    return len(text) == 4 and all(c in '0123456789abcdefABCDEF'
                                  for c in text)
