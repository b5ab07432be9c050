"""SR-IOV vGPU hosts (NVIDIA Ampere and later) against the sandbox: Nova's
libvirt driver makes one provider per VF, and the plugin shows one row
per physical GPU, with the model and vGPU type that `gpu host label`
writes (the default fleet labels vgpu-a40-1, vgpu-a10-1 and vgpu-l4-1 at
start, as an operator's timer would; vgpu-1 and vgpu-2 stay unlabelled)."""
import glob
import json
import os
import shutil

import fixtures

from gpuclient.model import devices
from gpuclient.model import labels
from gpuclient.model import releases
from tests.functional import base

A40_HOST = 'vgpu-a40-1'
A40_GPUS = ('0000:51:00.0', '0000:61:00.0')
A40_CLASS = 'CUSTOM_VGPU_A40'


def vf_provider(host, address):
    """Nova's name for the vGPU provider of the VF at `address`."""
    return '%s_pci_%s' % (host, address.replace(':', '_').replace('.', '_'))


class SriovTestCase(base.CapacityTestCase):

    def setUp(self):
        super().setUp()
        self.needs_provider(vf_provider(A40_HOST, '0000:51:00.4'))

    def create(self, vgpus, vgpu_type):
        name = self.flavor_name()
        return name, self.gpu('flavor', 'create', name, '--vcpus', 1,
                              '--ram', 512, '--disk', 1, '--vgpu', vgpus,
                              '--vgpu-type', vgpu_type)

    def groups_ok(self):
        """Whether the sandbox's Nova honours several vGPU groups."""
        return releases.has('vgpu_request_groups',
                            self.sandbox().release.name)

    def rows(self, host, *args):
        return {r['Address']: r for r in self.gpu(
            'device', 'list', '--host', host, '--kind', 'vgpu', *args)}

    def label(self, host, *args):
        """`gpu host label` as it runs on `host`: its sysfs and nova.conf."""
        state = self.sandbox().state
        return self.gpu(
            'host', 'label', '--host', host,
            '--sysfs', os.path.join(state.dir, 'sysfs', host),
            '--nova-conf', os.path.join(state.nova_conf_dir,
                                        'compute-%s.conf' % host), *args)

    def label_traits(self, host):
        """{provider name: its label traits} of a host's vGPU providers."""
        root = self.provider(host)['uuid']
        found = {}
        for p in self.placement('GET', '/resource_providers', params={
                'in_tree': root})['resource_providers']:
            if '_pci_' in p['name']:
                traits = self.placement('GET', '/resource_providers/%s/traits'
                                        % p['uuid'])['traits']
                found[p['name']] = {t for t in traits
                                    if labels.is_label_trait(t)}
        return found

    def strip_labels(self, host):
        """Take the labels off a host's vGPU providers; labelled again at
        the end of the test."""
        self.addCleanup(self.label, host)
        for name in self.label_traits(host):
            self.change_traits(self.provider(name)['uuid'], lambda traits: {
                t for t in traits if not labels.is_label_trait(t)})


class TestSriovListing(SriovTestCase):

    def test_two_a40s_are_two_rows_of_eight_vfs(self):
        rows = self.rows(A40_HOST, '--long')
        self.assertEqual(set(A40_GPUS), set(rows))
        for address in A40_GPUS:
            row = rows[address]
            self.assertEqual(
                ('A40', 'A40-2Q', 8, 8, 0, 8, 0, 'free', A40_CLASS,
                 '10de:2235'),
                (row['Model'], row['vGPU Type'], row['VFs'], row['Total'],
                 row['Used'], row['Free'], row['VFs Without Provider'],
                 row['State'], row['Resource Class'], row['PCI ID']), row)

    def test_a_vgpu_server_counts_on_its_gpu_and_its_vf(self):
        server = self.boot(self.create_flavor({'resources:%s' % A40_CLASS:
                                               '1'}))
        [vf_name] = self.gpus_held(server['id'])
        vf = devices.address_from_name(vf_name, A40_HOST)
        gpu = vf[:7] + ':00.0'
        rows = self.rows(A40_HOST)
        self.assertEqual((1, 7, 'partly-used'), (
            rows[gpu]['Used'], rows[gpu]['Free'], rows[gpu]['State']))
        other, = set(A40_GPUS) - {gpu}
        self.assertEqual(0, rows[other]['Used'])
        # --vfs: the VFs themselves, each under its GPU
        vfs = {r['Address']: r for r in self.gpu(
            'device', 'list', '--host', A40_HOST, '--vfs')}
        self.assertEqual(16, len(vfs))
        self.assertEqual((gpu, 1, 'in-use'), (
            vfs[vf]['GPU'], vfs[vf]['Used'], vfs[vf]['State']))
        self.assertEqual({gpu}, {r['GPU'] for r in vfs.values()
                                 if r['Address'].startswith(gpu[:7])})
        # device show of the GPU names the VF and who holds it
        shown = self.gpu('device', 'show', '%s:%s' % (A40_HOST, gpu))
        self.assertEqual(8, len(shown['VF Providers']))
        [held] = [v for v in shown['VF Providers'] if v['used']]
        self.assertEqual((vf, [server['id']]),
                         (held['address'], held['consumers']))
        # allocation show names the VF and its GPU
        [record] = self.gpu('allocation', 'show', server['id'])['GPUs']
        self.assertEqual((vf, gpu, 'A40', 'A40-2Q'), (
            record['address'], record['gpu'], record['model'],
            record['vgpu_type']))
        # the summary counts the GPUs, not the VF providers
        summary = {(r['Model'], r['vGPU Type']): r
                   for r in self.gpu('device', 'summary')}
        self.assertEqual((2, 16, 1), (
            summary['A40', 'A40-2Q']['Devices'],
            summary['A40', 'A40-2Q']['Total'],
            summary['A40', 'A40-2Q']['Used']))

    def test_two_types_on_one_host_each_gpu_its_own(self):
        rows = self.rows('vgpu-a10-1', '--long')
        self.assertEqual(
            {'0000:17:00.0': ('A10', 'A10-4Q', 6, 'CUSTOM_VGPU_A10'),
             '0000:31:00.0': ('A10', 'A10-8Q', 3, 'CUSTOM_VGPU_A10')},
            {a: (r['Model'], r['vGPU Type'], r['Total'],
                 r['Resource Class']) for a, r in rows.items()})
        only = self.gpu('device', 'list', '--vgpu-type', 'a10-8q')
        self.assertEqual([('vgpu-a10-1', '0000:31:00.0')],
                         [(r['Host'], r['Address']) for r in only])

    def test_vfs_past_max_instances_are_counted_as_without_provider(self):
        [row] = self.rows('vgpu-l4-1', '--long').values()
        # 8 VFs enabled, max_instances 6: Nova made 6 providers
        self.assertEqual(('L4', 'L4-4Q', 6, 6, 2), (
            row['Model'], row['vGPU Type'], row['VFs'], row['Total'],
            row['VFs Without Provider']))
        dry = self.label('vgpu-l4-1', '--dry-run')
        self.assertEqual(['0000:ca:01.2', '0000:ca:01.3'], sorted(
            r['Address'] for r in dry if r['Result'].startswith(
                'no provider')))

    def test_unlabelled_hosts_get_a_hint(self):
        code, out, err = self.run_openstack('gpu', 'device', 'list',
                                            '--host', 'vgpu-1')
        self.assertEqual(0, code, err)
        self.assertIn('4 vGPU provider(s) have no GPU model or vGPU type',
                      err)
        self.assertIn('openstack gpu host label', err)
        code, out, err = self.run_openstack('gpu', 'device', 'list',
                                            '--host', A40_HOST)
        self.assertNotIn('gpu host label', err)


class TestHostLabel(SriovTestCase):

    def test_label_names_gpu_model_and_type_and_keeps_other_traits(self):
        self.strip_labels(A40_HOST)
        before = self.rows(A40_HOST)
        self.assertEqual({None}, {r['Model'] for r in before.values()})
        one = vf_provider(A40_HOST, '0000:61:00.5')
        self.tag(one, 'CUSTOM_KEEP_ME')
        other_host = self.label_traits('vgpu-a10-1')
        dry = self.label(A40_HOST, '--dry-run')
        self.assertEqual({'would change'}, {r['Result'] for r in dry})
        self.assertEqual({None}, {r['Model'] for r in self.rows(
            A40_HOST).values()}, 'a dry run wrote labels')

        done = {r['Address']: r for r in self.label(A40_HOST)}
        self.assertEqual(16, len(done))
        self.assertEqual({'labelled'}, {r['Result'] for r in done.values()})
        self.assertEqual(
            ['CUSTOM_GPU_ADDR_0000_61_00_0', 'CUSTOM_GPU_PCI_10DE_2235',
             'CUSTOM_GPU_VFS_8', 'CUSTOM_VGPU_TYPE_A40_2Q'],
            done['0000:61:00.5']['Added'])
        rows = self.rows(A40_HOST, '--long')
        self.assertEqual({('A40', 'A40-2Q', 8)}, {
            (r['Model'], r['vGPU Type'], r['VFs']) for r in rows.values()})
        traits = self.placement('GET', '/resource_providers/%s/traits'
                                % self.provider(one)['uuid'])['traits']
        self.assertIn('CUSTOM_KEEP_ME', traits)
        self.assertEqual(other_host, self.label_traits('vgpu-a10-1'))
        # again: nothing to do
        self.assertEqual({'unchanged'}, {r['Result']
                                         for r in self.label(A40_HOST)})

    def test_trait_tag_of_a_gpu_tags_each_of_its_vfs(self):
        trait = 'CUSTOM_SRIOV_TEST'
        self.addCleanup(self.placement, 'DELETE', '/traits/%s' % trait)
        gpu = '%s:%s' % (A40_HOST, A40_GPUS[1])
        self.addCleanup(self.run_openstack, 'gpu', 'trait', 'untag', trait,
                        gpu)
        rows = self.gpu('trait', 'tag', trait, gpu)
        self.assertEqual(8, len(rows))
        self.assertEqual({'0000:61:00.%d' % f for f in range(4, 8)}
                         | {'0000:61:01.%d' % f for f in range(4)},
                         {r['Address'] for r in rows})
        [row] = self.gpu('device', 'list', '--trait', trait)
        self.assertEqual((A40_HOST, A40_GPUS[1], 8),
                         (row['Host'], row['Address'], row['Total']))

    def test_labels_survive_novas_periodic_update(self):
        before = self.label_traits('vgpu-a10-1')
        self.assertTrue(all(before.values()), before)
        # as after a compute restart: Nova re-reads every provider
        self.sandbox().periodic(refresh_provider_cache=True)
        self.assertEqual(before, self.label_traits('vgpu-a10-1'))

    def test_unknown_host_and_missing_nova_conf_are_one_line(self):
        state = self.sandbox().state
        line = self.gpu_fails(
            'host', 'label', '--host', 'no-such-host',
            '--sysfs', os.path.join(state.dir, 'sysfs', A40_HOST),
            '--nova-conf', os.path.join(state.nova_conf_dir,
                                        'compute-%s.conf' % A40_HOST))
        self.assertIn('no-such-host', line)
        line = self.gpu_fails(
            'host', 'label', '--host', A40_HOST,
            '--sysfs', os.path.join(state.dir, 'sysfs', A40_HOST),
            '--nova-conf', '/nonexistent/nova.conf')
        self.assertIn('/nonexistent/nova.conf', line)


class TestVgpuTypeFlavor(SriovTestCase):

    def test_vgpu_type_flavor_boots_on_a_gpu_of_that_type(self):
        for vgpu_type, bus in (('A10-8Q', '31'), ('A10-4Q', '17')):
            name, flavor = self.create(1, vgpu_type)
            self.assertEqual(
                {'resources:CUSTOM_VGPU_A10': '1',
                 'trait:CUSTOM_VGPU_TYPE_%s' % vgpu_type.replace('-', '_'):
                     'required'}, flavor['Extra Specs'])
            server = self.boot(name)
            [held] = self.gpus_held(server['id'])
            self.assertTrue(held.startswith('vgpu-a10-1_pci_0000_%s_' % bus),
                            (vgpu_type, held))

    def test_two_vgpus_are_two_groups_and_boot_on_two_vfs(self):
        if not self.groups_ok():
            # Nova before 2026.1 attaches the first group's vGPU only
            # (nova/virt/libvirt/driver.py _allocate_mdevs, Nova 29)
            line = self.gpu_fails('flavor', 'create', self.flavor_name(),
                                  '--vcpus', 1, '--ram', 512, '--disk', 1,
                                  '--vgpu', 2, '--vgpu-type', 'A40-2Q')
            self.assertIn('needs 2026.1 or later', line)
            self.assertIn('this cloud runs %s' % self.sandbox().release.name,
                          line)
            return
        name, flavor = self.create(2, 'A40-2Q')
        trait = 'CUSTOM_VGPU_TYPE_A40_2Q'
        self.assertEqual(
            {'group_policy': 'isolate',
             'resources1:%s' % A40_CLASS: '1',
             'resources2:%s' % A40_CLASS: '1',
             'trait1:%s' % trait: 'required',
             'trait2:%s' % trait: 'required'}, flavor['Extra Specs'])
        server = self.boot(name)
        shown = self.gpu('allocation', 'show', server['id'])
        gpus = shown['GPUs']
        self.assertEqual(2, len(gpus))
        self.assertEqual(2, len({g['address'] for g in gpus}))
        for g in gpus:   # each VF named under its GPU
            self.assertEqual(g['address'][:7] + ':00.0', g['gpu'])
            self.assertIn(g['gpu'], A40_GPUS)
        self.assertEqual(['ok'], sorted({c['result']
                                         for c in shown['Checks']}))
        listed = {r['Server']: r for r in self.gpu('allocation', 'list',
                                                   '--host', A40_HOST)}
        self.assertIn(server['id'], listed)

    def test_more_vgpus_than_a_host_has_vfs_are_refused(self):
        line = self.gpu_fails('flavor', 'create', self.flavor_name(),
                              '--vcpus', 1, '--ram', 512, '--disk', 1,
                              '--vgpu', 4, '--vgpu-type', 'A10-8Q')
        self.assertIn('the most on one host is 3 (vgpu-a10-1)', line)

    def test_capacity_of_a_vgpu_type_flavor_is_what_boots(self):
        for vgpus, fits in ((2, 1), (1, 3)) if self.groups_ok() else (
                ((1, 3),)):
            name, _ = self.create(vgpus, 'A10-8Q')
            self.assertEqual(fits, self.capacity(name)['Servers'],
                             (vgpus, self.capacity(name)))
        self.boot_all(name, 3)

    def test_audit_finds_a_flavor_asking_a_type_no_gpu_serves(self):
        # made through Nova, as a hand-made flavor would be
        flavor = self.create_flavor({
            'resources1:%s' % A40_CLASS: '1',
            'trait1:CUSTOM_VGPU_TYPE_A40_48Q': 'required'})
        code, out, err = self.run_openstack(
            'gpu', 'audit', '--check', 'never-schedules', '-f', 'json')
        self.assertEqual(1, code, err)
        [found] = [f for f in json.loads(out)
                   if f['subject'] == 'flavor %s' % flavor]
        self.assertIn('CUSTOM_VGPU_TYPE_A40_48Q', found['detail'])

    def test_unknown_vgpu_type_is_refused_naming_the_labelled_ones(self):
        line = self.gpu_fails('flavor', 'create', self.flavor_name(),
                              '--vcpus', 1, '--ram', 512, '--disk', 1,
                              '--vgpu', 1, '--vgpu-type', 'A100-7Q')
        self.assertIn('A10-4Q, A10-8Q, A40-2Q, L4-4Q)', line)


class TestVanishedVfs(SriovTestCase):
    """vgpu-a40-1 as after a reboot that did not enable its GPUs' VFs (no
    sriov-manage): the sandbox takes the VFs out of its fake libvirt and
    sysfs copy and runs every compute's update, provider cache refreshed
    as after a restart; the VFs are back at the end of the test."""

    def label_status(self):
        """`gpu host label` as the host's timer runs it: (exit, rows)."""
        state = self.sandbox().state
        code, out, err = self.run_openstack(
            'gpu', 'host', 'label', '--host', A40_HOST,
            '--sysfs', os.path.join(state.dir, 'sysfs', A40_HOST),
            '--nova-conf', os.path.join(state.nova_conf_dir,
                                        'compute-%s.conf' % A40_HOST),
            '-f', 'json')
        return code, json.loads(out) if out.strip() else err

    def vanished(self):
        code, out, err = self.run_openstack(
            'gpu', 'audit', '--check', 'vgpu-vfs-vanished', '-f', 'json')
        return code, {f['subject']: f for f in json.loads(out)}

    def test_vfs_gone_while_a_server_holds_a_vgpu(self):
        server = self.boot(self.create_flavor({'resources:%s' % A40_CLASS:
                                               '1'}))
        [vf_name] = self.gpus_held(server['id'])
        vf = devices.address_from_name(vf_name, A40_HOST)
        gpu = vf[:7] + ':00.0'
        sandbox = self.sandbox()
        self.addCleanup(self.label, A40_HOST)
        self.addCleanup(sandbox.set_vfs, A40_HOST, True)
        sandbox.set_vfs(A40_HOST, False)
        # Nova keeps the VF providers, the server's allocation with them
        self.assertEqual({vf_name: {A40_CLASS: 1}},
                         self.gpus_held(server['id']))
        self.assertEqual(1, self.inventory(vf_name, A40_CLASS)['total'])
        self.assertEqual(16, len(self.label_traits(A40_HOST)))
        # the host's timer records what the host has now, and fails
        code, rows = self.label_status()
        self.assertEqual(1, code, rows)
        [row] = [r for r in rows if r['Address'] == vf]
        self.assertIn('VF %s is not on this host: GPU %s has 0 VFs enabled'
                      % (vf, gpu), row['Result'])
        self.assertIn('and the vGPU a server holds there', row['Result'])
        code, found = self.vanished()
        self.assertEqual(1, code, found)
        held = found['%s:%s' % (A40_HOST, gpu)]
        self.assertEqual('error', held['severity'])
        self.assertIn(server['id'], held['detail'])
        [other] = set(A40_GPUS) - {gpu}
        self.assertEqual('warning',
                         found['%s:%s' % (A40_HOST, other)]['severity'])
        # enabled again and relabelled: nothing to say
        sandbox.set_vfs(A40_HOST, True)
        self.assertEqual(0, self.label_status()[0])
        self.assertEqual((0, {}), self.vanished())


class TestConfigSriov(SriovTestCase):
    """gpu config generate | check rehearsed on the sandbox's SR-IOV host:
    its sysfs copy and the nova.conf it runs with."""

    def sysfs(self, host=A40_HOST):
        return os.path.join(self.sandbox().state.dir, 'sysfs', host)

    def config(self, *args):
        return self.gpu('config', *args, '--release',
                        self.sandbox().release.name)

    def test_generate_gives_each_gpu_its_vfs_and_the_sriov_unit(self):
        found = self.config('generate', '--sysfs', self.sysfs())
        group = found['compute']['mdev_nvidia-558']
        addresses = group['device_addresses']
        self.assertEqual(16, len(addresses))
        # each A40 holds 24 A40-2Q vGPUs (max_instance), more than its 8 VFs
        self.assertEqual(16, group['max_instances'])
        self.assertEqual({'0000:51', '0000:61'}, {a[:7] for a in addresses})
        self.assertEqual(['nvidia-558'],
                         found['compute']['devices']['enabled_mdev_types'])
        self.assertNotIn('pci', found['compute'])   # no VF passed through
        self.assertEqual(list(A40_GPUS), found['sriov_gpus'])
        self.assertEqual({1}, {p['total'] for p in found['placement']})
        self.assertEqual(16, len(found['placement']))
        code, out, err = self.run_openstack(
            'gpu', 'config', 'generate', '--sysfs', self.sysfs(),
            '--release', self.sandbox().release.name)
        self.assertEqual(0, code, err)
        for gpu in A40_GPUS:
            self.assertIn('systemctl enable --now '
                          'nvidia-sriov-manage@%s.service' % gpu, out)
        # every unit line is a comment: the block pastes into nova.conf
        unit = out[out.index('nvidia-sriov-manage@.service'):]
        self.assertTrue(all(line.startswith('#')
                            for line in unit.splitlines()[1:] if line))

    def test_generate_lists_no_more_vfs_than_the_gpu_holds(self):
        # the L4's 8 VFs, but L4-4Q fits 6 vGPUs on the GPU (max_instance)
        found = self.config('generate', '--sysfs', self.sysfs('vgpu-l4-1'))
        group = found['compute']['mdev_nvidia-880']
        self.assertEqual((6, 6), (len(group['device_addresses']),
                                  group['max_instances']))
        self.assertIn('holds at most 6', ' '.join(found['warnings']))
        # as many providers as Nova made on the host
        self.assertEqual(6, len(found['placement']))
        self.assertEqual(6, len(self.label_traits('vgpu-l4-1')))

    def test_vfs_not_enabled_are_caught_by_generate_and_check(self):
        copy = os.path.join(self.useFixture(fixtures.TempDir()).path, 'sys')
        shutil.copytree(self.sysfs(), copy, symlinks=True)
        gpu = os.path.join(copy, 'devices', 'pci0000:00', A40_GPUS[0])
        for link in glob.glob(os.path.join(gpu, 'virtfn*')):
            vf = os.path.basename(os.readlink(link))
            shutil.rmtree(os.path.join(copy, 'devices', 'pci0000:00', vf))
            os.unlink(os.path.join(copy, 'bus', 'pci', 'devices', vf))
            os.unlink(link)
        with open(os.path.join(gpu, 'sriov_numvfs'), 'w') as f:
            f.write('0\n')   # after a reboot with no sriov-manage
        found = self.config('generate', '--sysfs', copy)
        self.assertEqual([A40_GPUS[1]], found['sriov_gpus'])
        [warning] = [w for w in found['warnings'] if A40_GPUS[0] in w]
        self.assertIn('no VF enabled', warning)
        self.assertIn('sriov-manage -e %s' % A40_GPUS[0], warning)
        conf = os.path.join(self.sandbox().state.nova_conf_dir,
                            'compute-%s.conf' % A40_HOST)
        code, out, err = self.run_openstack(
            'gpu', 'config', 'check', conf, '--sysfs', copy, '--release',
            self.sandbox().release.name, '-f', 'json')
        self.assertEqual(1, code, err)
        problems = [r['Problem'] for r in json.loads(out)
                    if r['Level'] == 'error']
        self.assertEqual(8, len(problems))
        self.assertTrue(all('is not on this host' in p and 'sriov-manage'
                            in p for p in problems), problems)

    def test_check_catches_two_types_on_one_gpu(self):
        conf = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'nova.conf')
        with open(conf, 'w') as f:
            f.write('[devices]\nenabled_mdev_types = nvidia-592, nvidia-593'
                    '\n[mdev_nvidia-592]\ndevice_addresses = 0000:17:00.4,'
                    '0000:17:00.5\n[mdev_nvidia-593]\ndevice_addresses = '
                    '0000:17:00.6\n')
        code, out, err = self.run_openstack(
            'gpu', 'config', 'check', conf, '--sysfs',
            self.sysfs('vgpu-a10-1'), '--release',
            self.sandbox().release.name, '-f', 'json')
        self.assertEqual(1, code, err)
        problems = [r['Problem'] for r in json.loads(out)
                    if r['Level'] == 'error']
        self.assertIn('the VFs of GPU 0000:17:00.0 are given 2 vGPU types',
                      ' '.join(problems))
        # the host's own nova.conf is clean
        clean = os.path.join(self.sandbox().state.nova_conf_dir,
                             'compute-vgpu-a10-1.conf')
        self.assertEqual([], [r for r in self.config(
            'check', clean, '--sysfs', self.sysfs('vgpu-a10-1'))
            if r['Level'] == 'error'])


L40S_HOST = 'vgpu-l40s-1'
# GPU -> (vGPU type, VFs given it, class): the fleet's variant-driver L40S
L40S_GPUS = {'0000:a1:00.0': ('L40S-12Q', 4, 'CUSTOM_VGPU_L40S_12Q'),
             '0000:e1:00.0': ('L40S-24Q', 2, 'CUSTOM_VGPU_L40S_24Q')}


class TestVariantDriver(base.CapacityTestCase):
    """vgpu-l40s-1: two L40S under NVIDIA's kernel variant driver. Nova
    passes the VFs given a type through (`managed: no`) and counts each
    GPU's on one provider: a VF pool, whose device_spec traits name its
    type and the GPU's ids."""

    def setUp(self):
        super().setUp()
        release = self.sandbox().release.name
        if not releases.has('managed', release):
            self.skipTest('%s; this sandbox runs %s, whose fleet leaves the '
                          'host out' % (releases.needs('managed'), release))

    def rows(self, *args):
        return {r['Address']: r for r in self.gpu(
            'device', 'list', '--host', L40S_HOST, *args)}

    def sysfs(self):
        return os.path.join(self.sandbox().state.dir, 'sysfs', L40S_HOST)

    def test_each_gpu_is_one_pool_with_its_model_and_type(self):
        rows = self.rows('--long')
        self.assertEqual(
            {a: ('L40S', t, n, n, 0, 'free', rc, n, '10de:26b9')
             for a, (t, n, rc) in L40S_GPUS.items()},
            {a: (r['Model'], r['vGPU Type'], r['Total'], r['Free'],
                 r['Used'], r['State'], r['Resource Class'], r['VF Pool'],
                 r['PCI ID']) for a, r in rows.items()})
        [row] = self.gpu('device', 'list', '--vgpu-type', 'l40s-24q')
        self.assertEqual((L40S_HOST, '0000:e1:00.0'),
                         (row['Host'], row['Address']))
        summary = {(r['Model'], r['vGPU Type']): r
                   for r in self.gpu('device', 'summary')}
        self.assertEqual((1, 4, 0), (
            summary['L40S', 'L40S-12Q']['Devices'],
            summary['L40S', 'L40S-12Q']['Total'],
            summary['L40S', 'L40S-12Q']['Used']))

    def test_alias_flavor_boots_on_its_type_and_counts_on_its_gpu(self):
        name = self.flavor_name()
        conf = ('--nova-conf', self.nova_conf())
        self.gpu('flavor', 'create', name, '--vcpus', 1, '--ram', 512,
                 '--disk', 1, '--alias', 'l40s-24q:2', *conf)
        self.assertEqual(1, self.capacity(name, *conf)['Servers'])
        server = self.boot(name)
        self.assertEqual(
            {'%s_0000:E1:00.0' % L40S_HOST: {'CUSTOM_VGPU_L40S_24Q': 2}},
            self.gpus_held(server['id']))
        row = self.rows()['0000:e1:00.0']
        self.assertEqual((2, 0, 'in-use'),
                         (row['Used'], row['Free'], row['State']))
        [record] = self.gpu('allocation', 'show', server['id'])['GPUs']
        self.assertEqual(('0000:e1:00.0', 'L40S', 'L40S-24Q', 2), (
            record['address'], record['model'], record['vgpu_type'],
            record['amount']))
        self.assertEqual(0, self.capacity(name, *conf)['Servers'])
        self.boot(name, status='ERROR')

    def test_vgpu_type_of_passed_through_vfs_points_to_the_alias(self):
        line = self.gpu_fails('flavor', 'create', self.flavor_name(),
                              '--vcpus', 1, '--ram', 512, '--disk', 1,
                              '--vgpu', 1, '--vgpu-type', 'L40S-12Q')
        self.assertIn('use --alias NAME:COUNT with the [pci] alias of class '
                      'CUSTOM_VGPU_L40S_12Q', line)

    def test_generate_writes_what_the_host_runs_with(self):
        found = self.gpu('config', 'generate', '--sysfs', self.sysfs(),
                         '--release', self.sandbox().release.name)
        written = found['compute']['pci']['device_spec']
        with open(os.path.join(self.sandbox().state.nova_conf_dir,
                               'compute-%s.conf' % L40S_HOST)) as f:
            running = [json.loads(line.split('=', 1)[1]) for line in f
                       if line.startswith('device_spec')]

        def key(spec):   # the same traits in any order
            return json.dumps(dict(spec, traits=sorted(
                spec['traits'].split(','))), sort_keys=True)

        self.assertEqual(sorted(map(key, running)), sorted(map(key, written)))
        self.assertEqual(['0000:a1:00.4', '0000:a1:00.5', '0000:a1:00.6',
                          '0000:a1:00.7', '0000:e1:00.4', '0000:e1:00.5'],
                         [vf for vf, _ in found['vgpu_types']])
        # the providers predicted are those Nova made
        for p in found['placement']:
            real = self.provider(p['provider'].replace('<hypervisor>',
                                                       L40S_HOST))
            record = self.inventory(real['name'], p['resource_class'])
            self.assertEqual(p['total'], record['total'])
        code, out, err = self.run_openstack(
            'gpu', 'config', 'generate', '--sysfs', self.sysfs(),
            '--release', self.sandbox().release.name)
        self.assertEqual(0, code, err)
        self.assertIn("ExecStart=/bin/sh -c 'echo ", out)
        self.assertIn('systemctl enable --now nvidia-vgpu-types.service', out)

    def test_check_catches_a_vf_left_managed_and_two_classes_on_one_gpu(self):
        conf = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'nova.conf')
        with open(conf, 'w') as f:
            f.write('[pci]\nreport_in_placement = true\n'
                    'device_spec = {"vendor_id": "10de", "product_id": '
                    '"26b9", "address": "0000:a1:00.4", "resource_class": '
                    '"CUSTOM_VGPU_L40S_12Q"}\n'
                    'device_spec = {"vendor_id": "10de", "product_id": '
                    '"26b9", "address": "0000:a1:00.5", "managed": "no", '
                    '"resource_class": "CUSTOM_VGPU_L40S_8Q"}\n')
        code, out, err = self.run_openstack(
            'gpu', 'config', 'check', conf, '--sysfs', self.sysfs(),
            '--release', self.sandbox().release.name, '-f', 'json')
        self.assertEqual(1, code, err)
        problems = ' '.join(r['Problem'] for r in json.loads(out)
                            if r['Level'] == 'error')
        self.assertIn('0000:a1:00.4: VFs of NVIDIA\'s variant driver '
                      'without "managed": "no"', problems)
        self.assertIn('the VFs of GPU 0000:a1:00.0 get 2 resource classes',
                      problems)
        clean = os.path.join(self.sandbox().state.nova_conf_dir,
                             'compute-%s.conf' % L40S_HOST)
        self.assertEqual([], [r for r in self.gpu(
            'config', 'check', clean, '--sysfs', self.sysfs(), '--release',
            self.sandbox().release.name) if r['Level'] == 'error'])
