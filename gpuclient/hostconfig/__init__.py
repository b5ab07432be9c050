"""A host's configuration: nova.conf read as Nova reads it, its checks,
and the settings generated from a host's sysfs."""
