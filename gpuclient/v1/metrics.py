"""openstack gpu metrics"""
from __future__ import annotations

import os
import signal
import threading

from osc_lib import exceptions

from gpuclient.operations import reading
from gpuclient.v1 import base
from gpuclient.v1 import options

# Below this a refresh of a large cloud would run back to back, and the
# data would be no fresher than Prometheus' usual 15-60 s scrapes anyway.
MIN_INTERVAL = 1.0


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

    --serve ADDRESS:PORT runs an exporter instead: it reads the estate every
    --interval seconds in the background and answers each scrape of
    /metrics from the last good read, so a scrape never waits on the
    cloud. If a read fails (Placement or Nova down), it keeps serving the
    last good data, marked stale (openstack_gpu_exporter_stale 1), logs one
    line, and recovers by itself. It also serves per-consumer series
    (openstack_gpu_consumer_units) and its own health
    (openstack_gpu_exporter_*). SIGTERM or Ctrl-C stops it at once.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--output', metavar='<file>',
                            type=options.nonempty('--output', 'a file'),
                            help='write here, atomically (e.g. '
                                 '/var/lib/node_exporter/textfile/gpu.prom)')
        parser.add_argument('--serve', metavar='<address>:<port>',
                            type=address_port,
                            help='serve the metrics over HTTP at this '
                                 'address (127.0.0.1:9187, [::1]:9187, '
                                 ':9187 for every IPv4 address) until '
                                 'stopped, instead of writing them once')
        parser.add_argument('--interval', metavar='<seconds>', type=float,
                            default=60.0,
                            help='with --serve: seconds from the start of '
                                 'one read of the cloud to the next '
                                 '(default 60); one read at a time')
        options.add_nova_conf(parser, 'the [pci] aliases give passthrough '
                              'flavors\' capacity')
        return parser

    def take_action(self, args):
        from gpuclient.model import metrics
        from gpuclient.operations import metrics as metrics_ops

        if args.serve and args.output:
            raise exceptions.CommandError(
                '--serve and --output exclude each other: the exporter '
                'answers scrapes, the textfile is for node_exporter')
        if args.interval < MIN_INTERVAL:
            raise exceptions.CommandError(
                '--interval must be at least %g s' % MIN_INTERVAL)
        if args.output:
            check_writable(args.output)
        cloud = self.app.client_manager.gpu
        nova_conf = reading.load_nova_conf(args.nova_conf)
        if args.serve:
            return self.serve(cloud, nova_conf, args)
        reg, line = metrics_ops.estate_registry(cloud, nova_conf)
        if line:
            print(line, file=self.app.stderr)
        data = metrics.exposition(reg)
        if not args.output:
            self.app.stdout.write(data.decode('utf-8'))
            return
        try:
            metrics.write(args.output, data)
        except OSError as e:
            raise exceptions.CommandError('cannot write %s: %s' % (
                args.output, e.strerror or e))

    def serve(self, cloud, nova_conf, args):
        from gpuclient.operations import metrics as metrics_ops

        stop = threading.Event()
        # A systemd stop (SIGTERM) ends the process as Ctrl-C does, but
        # with exit code 0: it is how a service is meant to stop.
        previous = signal.signal(signal.SIGTERM,
                                 lambda signum, frame: stop.set())

        def log(line):
            print(line, file=self.app.stderr, flush=True)

        address, port = args.serve
        try:
            metrics_ops.serve(cloud, nova_conf, address, port, args.interval,
                              stop, log)
        except OSError as e:
            raise exceptions.CommandError('cannot serve on %s: %s' % (
                ':'.join((address, str(port))), e.strerror or e))
        finally:   # an OSC shell (or a test) running it goes on
            signal.signal(signal.SIGTERM, previous)


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


def address_port(text: str) -> tuple[str, int]:
    """'ADDRESS:PORT' -> (address, port); [v6]:PORT; ':PORT' for every
    IPv4 address (prometheus_client's default, 0.0.0.0)."""
    address, sep, port = text.strip().rpartition(':')
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise exceptions.CommandError(
            '--serve needs ADDRESS:PORT (127.0.0.1:9187, [::1]:9187 or '
            ':9187), got %r' % text)
    if address.startswith('[') and address.endswith(']'):
        address = address[1:-1]
    elif ':' in address:
        raise exceptions.CommandError(
            '--serve: write an IPv6 address in brackets, [%s]:%s'
            % (address, port))
    return address or '0.0.0.0', int(port)
