"""A rehearsal: one host with the hardware of a copy of its /sys and the
operator's own nova.conf, so what Placement will show, and whether a flavor
boots, can be seen before the cloud is touched.

The nova.conf is read with Nova's own option definitions ([pci],
[filter_scheduler], [devices] and the dynamic [mdev_<type>] groups), as
nova-compute would read it; the hardware with gpuclient.hostconfig.sysfs.
"""
from gpu_sandbox import fleet as fleet_mod

HOST = 'rehearsal-1'


def fleet_data(sysfs_dir: str, nova_conf: str) -> dict:
    """The fleet of a rehearsal: one host, its hardware and settings."""
    import os

    return {'hosts': {HOST: {'sysfs': os.path.abspath(sysfs_dir)}},
            'nova_conf': os.path.abspath(nova_conf)}


def functions(sysfs_dir: str):
    """The host's PCI functions, as gpuclient.hostconfig.sysfs reads them."""
    from gpuclient.hostconfig import sysfs

    try:
        return list(sysfs.read(sysfs_dir).functions.values())
    except sysfs.SysfsError as e:
        raise fleet_mod.FleetError(str(e)) from None


def operator_conf(path: str) -> dict:
    """The settings of the operator's nova.conf that shape PCI and vGPU
    devices, as {section: {option: value}}, read as Nova reads them."""
    from nova.conf import devices
    from nova.conf import pci
    from nova.conf import scheduler
    from oslo_config import cfg

    conf = cfg.ConfigOpts()
    for module in (pci, devices, scheduler):
        module.register_opts(conf)
    try:
        conf([], project='nova', default_config_files=[path])
        devices.register_dynamic_opts(conf)
        settings = {
            'pci': {'device_spec': list(conf.pci.device_spec),
                    'alias': list(conf.pci.alias),
                    'report_in_placement': conf.pci.report_in_placement},
            'filter_scheduler': {
                'pci_in_placement': conf.filter_scheduler.pci_in_placement,
                'enabled_filters': fleet_mod.FILTERS},
            'devices': {'enabled_mdev_types':
                        list(conf.devices.enabled_mdev_types)}}
        for mdev_type in conf.devices.enabled_mdev_types:
            group = getattr(conf, 'mdev_%s' % mdev_type)
            settings['mdev_%s' % mdev_type] = {
                'device_addresses': list(group.device_addresses),
                'mdev_class': group.mdev_class,
                'max_instances': group.max_instances}
    except (cfg.Error, OSError, ValueError) as e:
        raise fleet_mod.FleetError('cannot read nova.conf %s: %s' % (
            path, str(e).splitlines()[0] if str(e) else type(e).__name__))
    return settings
