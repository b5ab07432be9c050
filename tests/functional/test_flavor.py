"""openstack gpu flavor create | list against the sandbox."""
import json
import os
import uuid

import fixtures

from gpu_sandbox import client
from gpu_sandbox import fleet
from tests.functional import base

A30_CLASS = 'CUSTOM_PCI_10DE_20B7'
VGPU_GPUS = ['vgpu-1_pci_0000_%s_00_0' % bus for bus in ('84', '85', '86',
                                                          '87')]
SIZE = ('--vcpus', 1, '--ram', 512, '--disk', 1)


class TestCreate(base.FlavorTestCase):

    def test_a30_flavor_boots_holding_one_a30(self):
        name = self.flavor_name('gpu.a30')
        flavor = self.gpu('flavor', 'create', name, '--vcpus', 2, '--ram',
                          2048, '--disk', 10, '--alias', 'a30')
        self.assertEqual(['1 × a30 (PCI passthrough)'],
                         flavor['GPU Request'])
        self.assertEqual({'pci_passthrough:alias': 'a30:1'},
                         flavor['Extra Specs'])
        nova, = self.nova_flavors(name)
        self.assertEqual((flavor['ID'], 2, 2048, 10, True, {
            'pci_passthrough:alias': 'a30:1'}), (
            nova['id'], nova['vcpus'], nova['ram'], nova['disk'],
            nova['os-flavor-access:is_public'], nova['extra_specs']))
        server = self.boot(name)
        held = self.gpus_held(server['id'])
        self.assertEqual([{A30_CLASS: 1}], list(held.values()), held)
        self.assertTrue(list(held)[0].startswith('gpu-a30-1_'))

    def test_vgpu_trait_flavor_boots_onto_the_tagged_gpu(self):
        trait = 'CUSTOM_GPU_TYPE_%s' % uuid.uuid4().hex[:8].upper()
        self.tag(VGPU_GPUS[-1], trait)
        name = self.flavor_name()
        code, out, err = self.run_openstack(
            'gpu', 'flavor', 'create', name, *SIZE, '--vgpu', 1,
            '--trait', trait.lower(), '-f', 'json')
        self.assertEqual((0, ''), (code, err))  # no "nobody has it" warning
        self.assertEqual({'resources:VGPU': '1',
                          'trait:%s' % trait: 'required'},
                         self.nova_flavors(name)[0]['extra_specs'])
        # Untagged GPUs come first in Placement's answer: two servers that
        # both land on the last GPU did not get there by chance.
        for _ in range(2):
            server = self.boot(name)
            self.assertEqual({VGPU_GPUS[-1]: {'VGPU': 1}},
                             self.gpus_held(server['id']))

    def test_several_vgpus_come_from_one_gpu(self):
        name = self.flavor_name()
        flavor = self.gpu('flavor', 'create', name, *SIZE, '--vgpu', 2)
        self.assertEqual({'resources:VGPU': '2'}, flavor['Extra Specs'])
        self.assertEqual(['2 × VGPU'], flavor['GPU Request'])
        held = self.gpus_held(self.boot(name)['id'])
        self.assertEqual([{'VGPU': 2}], list(held.values()), held)

    def test_trait_no_gpu_has_is_a_warning(self):
        name = self.flavor_name()
        code, out, err = self.run_openstack(
            'gpu', 'flavor', 'create', name, *SIZE, '--vgpu', 1,
            '--trait', 'CUSTOM_NVLINK', '-f', 'json')
        self.assertEqual(0, code, err)
        self.assertEqual(['warning: no VGPU GPU (nor its host) has trait '
                          'CUSTOM_NVLINK yet: servers of this flavor get '
                          'NoValidHost until one does'], err.splitlines())
        self.assertEqual(1, len(self.nova_flavors(name)))

    def test_options_become_extra_specs(self):
        name = self.flavor_name()
        flavor = self.gpu(
            'flavor', 'create', name, *SIZE, '--alias', 'rtx3090',
            '--alias', 'a30:2', '--numa-policy', 'preferred',
            '--hide-hypervisor-id', '--forbid-trait', 'CUSTOM_NVLINK',
            '--property', 'hw:cpu_policy=dedicated', '--ephemeral', 2,
            '--swap', 256, '--description', 'consumer cards')
        specs = {'pci_passthrough:alias': 'rtx3090:1,a30:2',
                 'hw:pci_numa_affinity_policy': 'preferred',
                 'hw:hide_hypervisor_id': 'true',
                 'trait:CUSTOM_NVLINK': 'forbidden',
                 'hw:cpu_policy': 'dedicated'}
        self.assertEqual(specs, flavor['Extra Specs'])
        self.assertEqual(['1 × rtx3090 (PCI passthrough)',
                          '2 × a30 (PCI passthrough)',
                          'forbids trait CUSTOM_NVLINK'],
                         flavor['GPU Request'])
        nova, = self.nova_flavors(name)
        self.assertEqual((specs, 2, 256, 'consumer cards'), (
            nova['extra_specs'], nova['OS-FLV-EXT-DATA:ephemeral'],
            nova['swap'], nova['description']))

    def test_private_flavor_for_one_project(self):
        name = self.flavor_name()
        flavor = self.gpu('flavor', 'create', name, *SIZE, '--alias', 'a30',
                          '--private', '--project', client.MEMBER['project'])
        self.assertFalse(flavor['Is Public'])
        self.assertEqual(1, len(flavor['Access Project IDs']))
        self.assertEqual(1, len(self.nova_flavors(
            name, cloud=client.MEMBER_CLOUD)))

    def test_dry_run_creates_nothing(self):
        name = self.flavor_name()
        code, out, err = self.run_openstack(
            'gpu', 'flavor', 'create', name, *SIZE, '--alias', 'a30:2',
            '--dry-run', '-f', 'json')
        self.assertEqual((0, 'note: alias a30 not checked against nova.conf '
                          '(give --nova-conf FILE to check it)\n'
                          'dry run: nothing was created\n'), (code, err))
        self.assertIn('"pci_passthrough:alias": "a30:2"', out)
        self.assertEqual([], self.nova_flavors(name))


class TestRefused(base.FlavorTestCase):

    def assertRefused(self, expected, *options, name=None):
        name = name or self.flavor_name()
        error = self.gpu_fails('flavor', 'create', name, *SIZE, *options)
        self.assertIn(expected, error)
        self.assertEqual([], self.nova_flavors(name), 'half-made flavor')
        return error

    def test_empty_values(self):
        for option in ('--alias', '--trait', '--forbid-trait',
                       '--vgpu-class', '--nova-conf'):
            self.assertRefused('%s needs' % option, '--alias', 'a30',
                               option, ' ')
        self.assertRefused('--project needs', '--private', '--alias', 'a30',
                           '--project', '')
        self.assertIn('<flavor-name> needs a flavor name', self.gpu_fails(
            'flavor', 'create', '', *SIZE, '--alias', 'a30'))

    def test_malformed_alias(self):
        self.assertRefused("--alias 'a30:x': the count must be a whole "
                           "number", '--alias', 'a30:x')

    def test_unknown_trait(self):
        self.assertRefused("no trait 'CUSTOM_NO_SUCH_GPU' in Placement",
                           '--alias', 'a30', '--trait', 'CUSTOM_NO_SUCH_GPU')

    def test_alias_with_resources_of_its_class(self):
        self.assertRefused(
            'resources:%s next to pci_passthrough:alias makes a flavor that '
            'never schedules' % A30_CLASS,
            '--alias', 'a30', '--property', 'resources:%s=1' % A30_CLASS)

    def test_resources_of_a_class_placement_says_is_pci(self):
        # CUSTOM_A100 is a device_spec resource_class: only Placement knows
        self.assertRefused(
            'resources:CUSTOM_A100 without an alias allocates a GPU in '
            'Placement that Nova never attaches', '--vgpu', 1,
            '--property', 'resources:CUSTOM_A100=1')
        self.assertRefused('is a class of Nova-managed PCI devices',
                           '--vgpu', 1, '--vgpu-class', 'CUSTOM_A100')

    def test_kvm_hidden(self):
        self.assertRefused('use --hide-hypervisor-id, which sets '
                           'hw:hide_hypervisor_id=true', '--alias',
                           'rtx3090', '--property', 'hw:kvm_hidden=true')

    def test_machine_type(self):
        self.assertRefused('openstack image set --property '
                           'hw_machine_type=q35', '--alias', 'a30',
                           '--property', 'hw_machine_type=q35')

    def test_alias_with_a_trait_only_devices_have(self):
        # a flavor trait is matched against the host: proven NoValidHost
        self.assertRefused('trait:CUSTOM_NVLINK=required would never '
                           'schedule', '--alias', 'a100', '--trait',
                           'CUSTOM_NVLINK')

    def test_extra_spec_nova_rejects_leaves_no_flavor(self):
        error = self.assertRefused(
            "Compute: Validation failed; 'bogus' is not one of: dedicated, "
            "shared, mixed (HTTP 400)", '--alias', 'a30', '--property',
            'hw:cpu_policy=bogus')
        self.assertIn('nothing was created', error)

    def test_existing_name_is_refused_before_any_write(self):
        name = self.create_flavor({'hw:cpu_policy': 'shared'})
        self.assertIn('a flavor named %r exists already' % name,
                      self.gpu_fails('flavor', 'create', name, *SIZE,
                                     '--alias', 'a30'))
        nova, = self.nova_flavors(name)
        self.assertEqual({'hw:cpu_policy': 'shared'}, nova['extra_specs'])

    def test_project_needs_private(self):
        self.assertRefused('--project goes with --private', '--alias', 'a30',
                           '--project', client.MEMBER['project'])


class TestList(base.FlavorTestCase):

    def test_lists_gpu_flavors_with_their_request(self):
        a30 = self.flavor_name()
        self.gpu('flavor', 'create', a30, *SIZE, '--alias', 'a30:2')
        vgpu = self.flavor_name()
        self.gpu('flavor', 'create', vgpu, *SIZE, '--vgpu', 1,
                 '--trait', 'CUSTOM_NVLINK')
        # made behind the plugin's back, the way the seeds make them
        leaky = self.create_flavor({'resources:%s' % A30_CLASS: '1'})
        doubled = self.create_flavor({'resources:CUSTOM_A100': '1',
                                     'pci_passthrough:alias': 'a100:1'})
        plain = self.create_flavor({'hw:cpu_policy': 'dedicated'})
        rows = {r['Name']: r for r in self.gpu('flavor', 'list')}
        self.assertEqual(['1 × VGPU', 'requires trait CUSTOM_NVLINK'],
                         rows[vgpu]['GPU Request'])
        self.assertEqual(['2 × a30 (PCI passthrough)'],
                         rows[a30]['GPU Request'])
        self.assertEqual(['1 × %s (resources: without an alias: no device '
                          'attached, the GPU leaks)' % A30_CLASS],
                         rows[leaky]['GPU Request'])
        self.assertEqual(['1 × a100 (PCI passthrough)',
                          '1 × CUSTOM_A100 (resources: next to an alias: '
                          'never schedules)'], rows[doubled]['GPU Request'])
        self.assertNotIn(plain, rows)
        self.assertNotIn('m1.tiny', rows)
        self.assertNotIn('Extra Specs', rows[a30])

    def test_custom_classes_judged_by_who_holds_them(self):
        # Ironic's flavors name custom classes too; a vGPU class may be
        # custom ([mdev_<type>] mdev_class); CUSTOM_A100 is a device_spec
        # resource_class. Each is judged with every device of it taken.
        ironic = self.create_flavor({'resources:CUSTOM_BAREMETAL_GOLD': '1',
                                     'resources:VCPU': '0'})
        a16 = self.create_flavor({'resources:CUSTOM_VGPU_A16': '1'})
        leaky = self.create_flavor({'resources:CUSTOM_A100': '1'})
        a100s = sorted(p['name'] for p in self.placement(
            'GET', '/resource_providers',
            params={'resources': 'CUSTOM_A100:1'})['resource_providers'])
        self.assertEqual(4, len(a100s))
        expected = {a16: ['1 × CUSTOM_VGPU_A16 (vGPU)'],
                    leaky: ['1 × CUSTOM_A100 (resources: without an alias: '
                            'no device attached, the GPU leaks)']}

        def listed():
            rows = {r['Name']: r['GPU Request']
                    for r in self.gpu('flavor', 'list')}
            self.assertNotIn(ironic, rows)
            return {name: rows.get(name) for name in expected}

        self.assertEqual(expected, listed())
        for name in a100s:      # every A100 out of service, none held
            self.set_reserved(name, 'CUSTOM_A100', 1)
            self.addCleanup(self.set_reserved, name, 'CUSTOM_A100', 0)
        self.assertEqual(expected, listed())
        self.set_reserved(a100s[0], 'CUSTOM_A100', 0)
        server = self.boot(leaky)   # holds the last A100 (and leaks it)
        self.assertIn(a100s[0], self.allocations(server['id']))
        self.assertEqual(expected, listed())

    def test_long_adds_extra_specs(self):
        name = self.flavor_name()
        self.gpu('flavor', 'create', name, *SIZE, '--alias', 'a30',
                 '--hide-hypervisor-id')
        row, = [r for r in self.gpu('flavor', 'list', '--long')
                if r['Name'] == name]
        self.assertEqual({'pci_passthrough:alias': 'a30:1',
                          'hw:hide_hypervisor_id': 'true'},
                         row['Extra Specs'])
        self.assertEqual((0, 0), (row['Ephemeral'], row['Swap']))

    def test_no_none_in_table_or_value_output(self):
        # issue 11: a flavor without a description printed "None"
        name = self.flavor_name()
        create = ('create', name, *map(str, SIZE), '--alias', 'a30')
        for args, fmt in ((create + ('--dry-run',), 'table'),
                          (create + ('--dry-run',), 'value'),
                          (create, 'table'),
                          (('list', '--long'), 'table'),
                          (('list', '--long'), 'value')):
            code, out, err = self.run_openstack('gpu', 'flavor', *args,
                                                '-f', fmt)
            self.assertEqual(0, code, err)
            self.assertNotIn('None', out, (args, fmt))


class TestNovaConfAndBounds(base.FlavorTestCase):
    """--nova-conf, and counts no host can give (issues 13 and 16)."""

    def nova_conf(self):
        """The nova.conf the sandbox's nova-api runs with."""
        return os.path.join(self.sandbox().state.nova_conf_dir,
                            'controller.conf')

    def refused(self, expected, *options):
        name = self.flavor_name()
        error = self.gpu_fails('flavor', 'create', name, *SIZE, *options)
        self.assertIn(expected, error)
        self.assertEqual([], self.nova_flavors(name), 'flavor written')

    def test_alias_nova_conf_lacks_is_refused(self):
        defined = sorted(json.loads(a)['name']
                         for a in fleet.load().alias_config())
        self.assertIn('a30', defined)
        self.refused('alias nosuch is not defined in nova.conf [pci] alias '
                     '(defined: %s)' % ', '.join(defined),
                     '--alias', 'nosuch', '--nova-conf', self.nova_conf())
        # the one meant may be an entry Nova refuses
        broken = os.path.join(self.useFixture(fixtures.TempDir()).path,
                              'nova.conf')
        with open(broken, 'w') as f:
            f.write('[pci]\nalias = {"name": "a30", "vendor_id": "10de",}\n')
        self.refused('alias a30 is not defined in nova.conf [pci] alias '
                     '(defined: none): every boot of the flavor would fail '
                     '(%s has entries Nova refuses: see openstack gpu config '
                     'check)' % broken, '--alias', 'a30', '--nova-conf',
                     broken)

    def test_without_nova_conf_it_creates_and_says_so(self):
        name = self.flavor_name()
        code, out, err = self.run_openstack(
            'gpu', 'flavor', 'create', name, *SIZE, '--alias', 'nosuch',
            '-f', 'json')
        self.assertEqual((0, 'note: alias nosuch not checked against '
                          'nova.conf (give --nova-conf FILE to check it)\n'),
                         (code, err))
        self.assertEqual(1, len(self.nova_flavors(name)))

    def test_dry_run_shows_the_alias_from_nova_conf(self):
        name = self.flavor_name()
        code, out, err = self.run_openstack(
            'gpu', 'flavor', 'create', name, *SIZE, '--alias', 'a100:2',
            '--nova-conf', self.nova_conf(), '--dry-run', '-f', 'json')
        self.assertEqual((0, 'dry run: nothing was created\n'), (code, err))
        self.assertEqual([{'name': 'a100', 'count': 2,
                           'device_type': 'type-PF',
                           'resource_class': 'CUSTOM_A100', 'traits': [],
                           'numa_policy': 'legacy'}],
                         json.loads(out)['Aliases'])
        self.assertEqual([], self.nova_flavors(name))

    def test_counts_no_host_can_give(self):
        self.refused("--alias 'a30:99999999999999999999': at most 64 devices",
                     '--alias', 'a30:99999999999999999999')
        self.refused('--alias a30:3: no host has 3 a30 devices; the most on '
                     'one host is 2 (CUSTOM_PCI_10DE_20B7 on gpu-a30-1)',
                     '--alias', 'a30:3', '--nova-conf', self.nova_conf())
        # 17 isolated groups of one would need 17 VGPU providers on a host
        self.refused('--vgpu 17: one VGPU provider gives at most 16 (its '
                     'max_unit) and no host has 17 of them; the most on one '
                     'host is 4 (vgpu-1)', '--vgpu', 17)
        name = self.flavor_name()
        flavor = self.gpu('flavor', 'create', name, *SIZE, '--alias',
                          'a100:4', '--nova-conf', self.nova_conf())
        self.assertEqual('a100:4',
                         flavor['Extra Specs']['pci_passthrough:alias'])
        self.assertEqual(1, len(self.nova_flavors(name)))

    def test_members_dry_run_is_refused_as_the_create_is(self):
        name = self.flavor_name()
        for dry_run in ((), ('--dry-run',)):
            error = self.gpu_fails('flavor', 'create', name, *SIZE,
                                   '--alias', 'a30', *dry_run,
                                   cloud=client.MEMBER_CLOUD)
            self.assertIn('403', error)
        self.assertEqual([], self.nova_flavors(name))
