"""`gpu host label`: this host's vGPU providers labelled from its sysfs and
nova.conf, each write a read-modify-write of the provider's traits on its
generation (placement.read_modify_write), so a trait someone else adds
meanwhile is kept."""
from __future__ import annotations

from gpuclient.access import http
from gpuclient.access import pool
from gpuclient.model import host_labels
from gpuclient.operations import reading


def label(cloud, host: str, sysfs_host, conf, dry_run=False) -> list[dict]:
    """One row per vGPU provider of `host`'s trees (and per VF Nova gave
    none); nothing outside those trees is read or written."""
    placement = cloud.placement
    found = reading.load(cloud, host, with_traits=True)
    plans = host_labels.plan(found, sysfs_host, conf)
    if not dry_run:
        new = sorted({t for p in plans if p.device for t in p.wanted
                      if t not in (p.device.traits or ())})
        pool.gather(placement.create_trait, new)   # PUT: no-op if there

    def one(p):
        row = dict(address=p.address, gpu=p.gpu, model=p.model,
                   vgpu_type=p.vgpu_type, vfs=p.vfs, added=[], removed=[],
                   provider=p.device and p.device.provider_uuid,
                   failed=bool(p.problem and p.device or p.note),
                   vf_gone=bool(p.note))
        if p.problem:
            return dict(row, result=p.problem)
        uuid = p.device.provider_uuid
        if dry_run:
            body, written = placement.traits(uuid), None
            after = host_labels.changed(body['traits'], p.wanted)
        else:
            try:
                body, written = placement.read_modify_write(
                    lambda: placement.traits(uuid),
                    lambda body: host_labels.changed(body['traits'], p.wanted),
                    lambda generation, new: placement.put_traits(
                        uuid, generation, new))
            except http.CloudError as e:
                return dict(row, result='failed: %s' % e, failed=True)
            after = written['traits'] if written else None
        before = set(body['traits'])
        after = set(after) if after is not None else before
        result = ('unchanged' if after == before else
                  'would change' if dry_run else 'labelled')
        return dict(row, added=sorted(after - before),
                    removed=sorted(before - after),
                    result='%s; %s' % (result, p.note) if p.note else result)

    return pool.gather(one, plans)
