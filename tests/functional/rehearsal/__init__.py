"""Rehearsals: each test starts a one-host sandbox of its own
(``gpu-sandbox start --sysfs DIR --nova-conf FILE``), one after another.
``make test`` runs this package alone, after the shared sandbox of the
other functional tests is stopped, so no two sandboxes run at once."""
