"""openstack gpu metrics"""
from __future__ import annotations

import os

from osc_lib import exceptions

from gpuclient.operations import flavors as flavor_ops
from gpuclient.operations import reading
from gpuclient.v1 import base
from gpuclient.v1 import options


def summary(estimates) -> str | None:
    """One stderr line at most (a cron job mails stderr): the flavors whose
    capacity is unknown, else None. `gpu flavor capacity` says why."""
    unknown = sorted(name for name, fits in estimates.items() if fits is None)
    if not unknown:
        return None
    return ('capacity unknown for %d flavor(s), their PCI alias class is '
            'unknown (give --nova-conf): %s' % (len(unknown),
                                                ', '.join(unknown)))


class Metrics(base.Command):
    """Write the GPU estate as Prometheus metrics.

    In the text exposition format (prometheus_client): per device its
    capacity, used, reserved and free units, labelled by host, address,
    model, resource class, kind, owner and state; per flavor and host the
    servers that still fit (as "gpu flavor capacity --by host") and what
    limits them; per audit check and severity the number of findings.
    Names begin with openstack_gpu (e.g. openstack_gpu_device_free).
    --output FILE replaces FILE atomically, for node_exporter's textfile
    collector (run it from cron or a systemd timer); otherwise the metrics
    go to stdout.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--output', metavar='<file>',
                            type=options.nonempty('--output', 'a file'),
                            help='write here, atomically (e.g. '
                                 '/var/lib/node_exporter/textfile/gpu.prom)')
        options.add_nova_conf(parser, 'the [pci] aliases give passthrough '
                              'flavors\' capacity')
        return parser

    def take_action(self, args):
        from gpuclient.model import audit
        from gpuclient.model import capacity
        from gpuclient.model import metrics

        if args.output:
            check_writable(args.output)
        cloud = self.app.client_manager.gpu
        nova_conf = reading.load_nova_conf(args.nova_conf)
        # The audit's one read (devices, providers, servers, flavors)
        # serves the capacity run too.
        estate = reading.read_estate(cloud, nova_conf=nova_conf)
        roots = {p['name']: p['uuid'] for p in estate.providers
                 if not p['parent_provider_uuid']}
        estimates = flavor_ops.estimate_capacity(
            cloud, estate.devices,
            capacity.gpu_flavors(estate.flavors, estate.devices), nova_conf,
            servers=list(estate.servers.values()), roots=roots,
            warn=lambda line: None)   # summed up in one line below
        line = summary(estimates)
        if line:
            print(line, file=self.app.stderr)
        data = metrics.exposition(metrics.registry(
            [d for d in estate.devices if d.is_gpu],
            capacity.rows(estimates, by_host=True), audit.run(estate),
            list(audit.CHECKS), audit.SEVERITIES))
        if not args.output:
            self.app.stdout.write(data.decode('utf-8'))
            return
        try:
            metrics.write(args.output, data)
        except OSError as e:
            raise exceptions.CommandError('cannot write %s: %s' % (
                args.output, e.strerror or e))


def check_writable(path):
    """Fail before reading the cloud if the file cannot be replaced."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise exceptions.CommandError('cannot write %s: it is a directory'
                                      % path)
    if not os.access(directory, os.W_OK | os.X_OK):
        raise exceptions.CommandError(
            'cannot write %s: %s is not a writable directory'
            % (path, directory))
