"""Tests that start a one-host sandbox of their own, one after another:
rehearsals (``gpu-sandbox start --sysfs DIR --nova-conf FILE``) and
gpu-sandbox's own start, use and stop. ``make test`` runs this package
alone, after the shared sandbox of the other functional tests is stopped,
so no two sandboxes run at once."""
