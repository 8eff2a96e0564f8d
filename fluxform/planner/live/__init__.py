"""The plan against a live cluster: reads, dry-runs and the per-object decisions.

workflow.py   connect, build the fleet, plan against what the cluster holds
run.py        the steps of one live plan: map kinds, read, dry-run, decide, pair removals
decide.py     one object's change against its live copy (no I/O)
policy.py     Flux's per-object policies and the field-manager choice
"""
