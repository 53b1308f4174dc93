"""The chaos campaign: seeded workloads through ferry with injected faults, checked from the servers' own
view afterwards. ``python -m tests.chaos --help`` (or ``make chaos``) runs one; docs/reliability.md shows
the published one."""
