"""nova.conf as Nova reads it: the [pci], [devices], [mdev_<type>] and
[filter_scheduler] settings a GPU cloud depends on.

Values come from oslo.config itself, with Nova's own option definitions
(nova/conf/pci.py, devices.py, scheduler.py) repeated here so the plugin
never imports Nova: repeated keys are MultiStrOpt lists (concatenated over
all files, in order), the deprecated names (`passthrough_whitelist`,
`[DEFAULT] pci_passthrough_whitelist`, `[DEFAULT] pci_alias`,
`enabled_vgpu_types`, `[vgpu_<type>]`) count as Nova counts them, and
booleans parse as oslo parses them. Each JSON value is read the way
nova/pci/request.py (aliases) and nova/pci/whitelist.py (device specs) read
it; an entry Nova would refuse is kept out of the result and recorded in
`errors` with its file and line, for `gpu config check` to report.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import re

# Nova's names, current first (nova/conf/*.py).
ALIAS_KEYS = (('pci', 'alias'), ('DEFAULT', 'pci_alias'))
SPEC_KEYS = (('pci', 'device_spec'), ('pci', 'passthrough_whitelist'),
             ('DEFAULT', 'pci_passthrough_whitelist'))
DEVICE_TYPES = ('type-PCI', 'type-PF', 'type-VF')
# nova/conf/scheduler.py [filter_scheduler] enabled_filters default
DEFAULT_FILTERS = ('ComputeFilter', 'ComputeCapabilitiesFilter',
                   'ImagePropertiesFilter', 'ServerGroupAntiAffinityFilter',
                   'ServerGroupAffinityFilter')
PCI_FILTER = 'PciPassthroughFilter'   # not a default, needed for aliases
NUMA_POLICIES = ('legacy', 'preferred', 'required', 'socket')
# nova/pci/request.py _ALIAS_SCHEMA (additionalProperties: False)
ALIAS_FIELDS = ('name', 'capability_type', 'product_id', 'vendor_id',
                'device_type', 'numa_policy', 'resource_class', 'traits',
                'live_migratable')
# the device_spec keys nova/pci/devspec.py and the translator read; any
# other key is kept by Nova as a tag that nothing reads (a typo matches all)
SPEC_FIELDS = ('vendor_id', 'product_id', 'address', 'devname',
               'physical_network', 'trusted', 'remote_managed', 'managed',
               'live_migratable', 'one_time_use', 'resource_class', 'traits')
_HEX_ID = re.compile(r'^([0-9a-fA-F]{1,4}|\*)$')   # nova/pci/utils.py
# [mdev_<type>] mdev_class: what nova/conf/devices.py accepts
MDEV_CLASS = re.compile(r'^(VGPU|CUSTOM_[A-Z0-9_]+)$')


class ConfigError(ValueError):
    """A nova.conf that cannot be read at all (one line)."""


@dataclasses.dataclass(frozen=True)
class Entry:
    """One `key = value` of a file, as written (continuations joined)."""
    path: str
    line: int
    section: str
    key: str
    value: str

    @property
    def where(self) -> str:
        return '%s:%d' % (self.path, self.line)


@dataclasses.dataclass(frozen=True)
class Alias:
    """One [pci] alias entry (name, ids, device_type as written; traits
    as written, comma separated in the file)."""
    name: str
    vendor_id: str | None = None
    product_id: str | None = None
    device_type: str | None = None
    resource_class: str | None = None
    traits: tuple[str, ...] = ()
    numa_policy: str = 'legacy'
    live_migratable: str | None = None
    where: str = ''

    def placement_class(self) -> str:
        """The class Nova asks Placement for (resource_class, else
        CUSTOM_PCI_<VENDOR>_<PRODUCT>): pci_placement_translator."""
        return resource_class(self.resource_class, self.vendor_id,
                              self.product_id)

    def placement_traits(self) -> tuple[str, ...]:
        return tuple(normalize_trait(t) for t in self.traits)


@dataclasses.dataclass(frozen=True)
class MdevType:
    """A [mdev_<type>] section (Nova's dynamic options)."""
    name: str
    device_addresses: tuple[str, ...] = ()
    mdev_class: str = 'VGPU'
    max_instances: int | None = None


@dataclasses.dataclass
class NovaConf:
    paths: tuple[str, ...]
    entries: list[Entry]
    # every alias line Nova accepts, in order (a name may repeat)
    alias_list: list[Alias]
    # {name: the first Alias of that name} — what a flavor refers to
    aliases: dict[str, Alias]
    # every device_spec dict Nova accepts, in order (a JSON list expands),
    # with the Entry it came from
    device_specs: list[dict]
    spec_entries: list[Entry]
    report_in_placement: bool
    pci_in_placement: bool
    enabled_mdev_types: list[str]
    mdev_types: dict[str, MdevType]
    enabled_filters: list[str]      # [filter_scheduler], Nova's default
    #                                 when no file sets it
    # (Entry or None, message): values Nova would refuse
    errors: list[tuple[Entry | None, str]]

    @property
    def host(self) -> str | None:
        """[DEFAULT] host (Nova's service host) as the files set it."""
        found = [e.value.strip() for e in self.entries
                 if e.section == 'DEFAULT' and e.key == 'host']
        return found[-1] if found and found[-1] else None


def resource_class(requested: str | None, vendor_id, product_id) -> str:
    """nova.compute.pci_placement_translator.get_resource_class: the
    class asked for, normalised, else CUSTOM_PCI_<VENDOR>_<PRODUCT>."""
    if requested:
        return normalize_class(requested)
    return ('CUSTOM_PCI_%s_%s' % (vendor_id, product_id)).upper()


def normalize_class(name: str) -> str:
    """nova.compute.pci_placement_translator._normalize_resource_class."""
    import os_resource_classes

    name = name.upper()
    if (name in os_resource_classes.STANDARDS
            or os_resource_classes.is_custom(name)):
        return name
    return os_resource_classes.normalize_name(name)


def normalize_trait(name: str) -> str:
    """nova.compute.pci_placement_translator._normalize_traits, one name."""
    import os_traits

    name = name.strip()
    if os_traits.check_traits([name])[0]:
        return name
    name = name.upper()
    return name if os_traits.is_custom(name) else os_traits.normalize_name(
        name)


def _opts():
    from oslo_config import cfg

    return {
        'pci': [
            cfg.MultiStrOpt('alias', default=[], deprecated_name='pci_alias',
                            deprecated_group='DEFAULT'),
            cfg.MultiStrOpt('device_spec', default=[], deprecated_opts=[
                cfg.DeprecatedOpt('passthrough_whitelist', group='pci'),
                cfg.DeprecatedOpt('pci_passthrough_whitelist',
                                  group='DEFAULT')]),
            cfg.BoolOpt('report_in_placement', default=False)],
        'filter_scheduler': [
            cfg.BoolOpt('pci_in_placement', default=False),
            cfg.ListOpt('enabled_filters', default=list(DEFAULT_FILTERS))],
        'devices': [cfg.ListOpt('enabled_mdev_types', default=[],
                                deprecated_name='enabled_vgpu_types')],
    }


def _mdev_opts(mdev_type):
    from oslo_config import cfg

    return [cfg.ListOpt('device_addresses', default=[],
                        deprecated_group='vgpu_%s' % mdev_type),
            cfg.StrOpt('mdev_class', default='VGPU'),
            cfg.IntOpt('max_instances', default=None, min=1)]


def _read_entries(path):
    import io

    from oslo_config import cfg

    from gpuclient.hostconfig import files

    class Parser(cfg.ConfigParser):
        """Records each assignment with the line its key is on."""

        def __init__(self, filename):
            super().__init__(filename, {})
            self.entries, self.key_line = [], 0

        def _split_key_value(self, line):
            self.key_line = self.lineno
            return super()._split_key_value(line)

        def assignment(self, key, value):
            super().assignment(key, value)
            self.entries.append(Entry(path, self.key_line, self.section,
                                      key.strip(), '\n'.join(value)))

    # Read here, bounded, before oslo.config opens the file: oslo reads
    # whatever the path is, to the end, in the locale's encoding (UTF-8 on
    # every distribution Nova supports), and Nova fails to start on a byte
    # that is not UTF-8.
    try:
        text = files.read_text(path, files.NOVA_CONF, fix=(
            'oslo.config reads nova.conf as UTF-8 and Nova would not start; '
            'save the file as UTF-8'))
    except files.FileError as e:
        raise ConfigError(str(e)) from None
    parser = Parser(path)
    try:
        # BaseParser.parse over the text read (ConfigParser.parse would
        # open the file again); universal newlines as open() reads them
        super(cfg.ConfigParser, parser).parse(
            io.StringIO(text, newline=None).readlines())
    except cfg.ParseError as e:
        raise ConfigError('%s is not an ini file oslo.config can read: %s'
                          % (path, e))
    return parser.entries


@contextlib.contextmanager
def _quiet():
    # oslo.config logs "Deprecated: ..." for old names; `config check`
    # reports them itself, one line each.
    logger = logging.getLogger('oslo_config')
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def load(paths) -> NovaConf:
    """Read nova.conf files (later files add to repeated keys and override
    single ones, as with several --config-file). Raises ConfigError."""
    from oslo_config import cfg

    paths = tuple(paths)
    entries = [e for p in paths for e in _read_entries(p)]
    conf = cfg.ConfigOpts()
    for group, opts in _opts().items():
        conf.register_opts(opts, group=group)
    errors = []
    with _quiet():
        try:
            conf(args=[], default_config_files=list(paths),
                 default_config_dirs=[], use_env=False)
            values = {
                'alias': conf.pci.alias, 'device_spec': conf.pci.device_spec,
                'mdev_types': conf.devices.enabled_mdev_types,
                'filters': conf.filter_scheduler.enabled_filters}
        except cfg.Error as e:
            raise ConfigError('%s: %s' % (', '.join(paths), e))
        flags = {}
        for group, name in (('pci', 'report_in_placement'),
                            ('filter_scheduler', 'pci_in_placement')):
            try:
                flags[name] = conf[group][name]
            except (cfg.Error, ValueError):
                errors.append((_find(entries, ((group, name),)),
                               '[%s] %s is not a boolean (true or false)'
                               % (group, name)))
                flags[name] = False
        mdev_types = {}
        for name in values['mdev_types']:
            conf.register_opts(_mdev_opts(name), group='mdev_%s' % name)
            group = conf['mdev_%s' % name]
            try:
                mdev_types[name] = MdevType(
                    name, tuple(group.device_addresses), group.mdev_class,
                    group.max_instances)
            except (cfg.Error, ValueError) as e:
                errors.append((None, '[mdev_%s]: %s' % (name, e)))
                continue
            if not MDEV_CLASS.match(mdev_types[name].mdev_class):
                errors.append((_find(entries, (('mdev_%s' % name,
                                                'mdev_class'),)),
                               '[mdev_%s] mdev_class %r: VGPU or CUSTOM_...'
                               % (name, group.mdev_class)))
    alias_list = []
    for entry, text in _located(entries, ALIAS_KEYS, values['alias']):
        try:
            alias_list.append(parse_alias(text, entry.where if entry else ''))
        except ValueError as e:
            errors.append((entry, '[pci] alias: %s' % e))
    for alias in list(alias_list):
        # nova/pci/request.py _validate_required_ids
        if not (alias.vendor_id and alias.product_id) and not (
                alias.resource_class and flags['pci_in_placement']):
            alias_list.remove(alias)
            errors.append((_entry_at(entries, alias.where), (
                '[pci] alias %s: give vendor_id and product_id%s'
                % (alias.name, ' (or resource_class)'
                   if flags['pci_in_placement'] else
                   ' (resource_class alone needs [filter_scheduler] '
                   'pci_in_placement = true)'))))
    aliases = {}
    for alias in alias_list:
        aliases.setdefault(alias.name, alias)
    specs, spec_entries = [], []
    for entry, text in _located(entries, SPEC_KEYS, values['device_spec']):
        try:
            found = parse_device_spec(text)
        except ValueError as e:
            errors.append((entry, '[pci] device_spec: %s' % e))
            continue
        specs.extend(found)
        spec_entries.extend([entry] * len(found))
    errors.sort(key=lambda e: (paths.index(e[0].path), e[0].line)
                if e[0] else (len(paths), 0))
    return NovaConf(
        paths=paths, entries=entries, alias_list=alias_list, aliases=aliases,
        device_specs=specs, spec_entries=spec_entries,
        report_in_placement=flags['report_in_placement'],
        pci_in_placement=flags['pci_in_placement'],
        enabled_mdev_types=list(values['mdev_types']),
        mdev_types=mdev_types, enabled_filters=list(values['filters']),
        errors=errors)


def _find(entries, keys):
    found = [e for e in entries if (e.section, e.key) in keys]
    return found[-1] if found else None


def _entry_at(entries, where):
    return next((e for e in entries if e.where == where), None)


def _located(entries, keys, values):
    """(Entry, value) for each value oslo.config gives, matched back to the
    line it came from (values are in file order)."""
    unused = [e for e in entries if (e.section, e.key) in keys]
    for value in values:
        entry = next((e for e in unused if e.value == value), None)
        if entry is not None:
            unused.remove(entry)
        yield entry, value


def _loads(text: str):
    try:
        return json.loads(text)
    except ValueError as e:
        raise ValueError('not JSON (%s): %s' % (e, _short(text))) from None


def _short(text):
    text = ' '.join(text.split())
    return text if len(text) <= 60 else text[:57] + '...'


def _check_id(spec, key):
    value = spec.get(key)
    if value is not None and not (isinstance(value, str)
                                  and _HEX_ID.match(value.strip())):
        raise ValueError('%s %r is not a hexadecimal PCI id (e.g. "10de")'
                         % (key, value))


def parse_alias(text: str, where: str = '') -> Alias:
    """One alias value as nova/pci/request.py reads it (its JSON schema
    and defaults). Raises ValueError with what is wrong."""
    spec = _loads(text)
    if not isinstance(spec, dict):
        raise ValueError('an alias is one JSON object: %s' % _short(text))
    unknown = sorted(set(spec) - set(ALIAS_FIELDS))
    if unknown:
        raise ValueError('unknown key %r (Nova refuses it; keys: %s)'
                         % (unknown[0], ', '.join(ALIAS_FIELDS)))
    name = spec.get('name')
    if not isinstance(name, str) or not name.strip():
        raise ValueError('"name" is missing: %s' % _short(text))
    for key in spec:
        if not isinstance(spec[key], str):
            raise ValueError('%s must be a string: %s' % (key, _short(text)))
    _check_id(spec, 'vendor_id')
    _check_id(spec, 'product_id')
    if spec.get('device_type', 'type-PCI') not in DEVICE_TYPES:
        raise ValueError('device_type %r: one of %s' % (
            spec['device_type'], ', '.join(DEVICE_TYPES)))
    if spec.get('numa_policy', 'legacy') not in NUMA_POLICIES:
        raise ValueError('numa_policy %r: one of %s' % (
            spec['numa_policy'], ', '.join(NUMA_POLICIES)))
    traits = tuple(t.strip() for t in spec.get('traits', '').split(',')
                   if t.strip())
    return Alias(name=name.strip(), vendor_id=spec.get('vendor_id'),
                 product_id=spec.get('product_id'),
                 device_type=spec.get('device_type'),
                 resource_class=spec.get('resource_class'), traits=traits,
                 numa_policy=spec.get('numa_policy') or 'legacy',
                 live_migratable=spec.get('live_migratable'), where=where)


def parse_device_spec(text: str) -> list[dict]:
    """One device_spec value as nova/pci/whitelist.py reads it: a JSON
    object or a list of them. Raises ValueError with what is wrong."""
    found = _loads(text)
    if isinstance(found, dict):
        found = [found]
    if not isinstance(found, list) or not all(isinstance(s, dict)
                                              for s in found):
        raise ValueError('a device_spec is a JSON object or a list of '
                         'objects: %s' % _short(text))
    for spec in found:
        _check_id(spec, 'vendor_id')
        _check_id(spec, 'product_id')
        if 'address' in spec and 'devname' in spec:
            raise ValueError('address and devname do not go together: %s'
                             % _short(text))
    return found
