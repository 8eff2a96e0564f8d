"""`fluxform diff`: what a change between two git revisions does to each cluster.

workflow.py   render both revisions (changed-only or full) and compare
changed.py    the changed-only index: which owners a set of changed files can affect
compare.py    base desired state vs head desired state, per owner
"""
