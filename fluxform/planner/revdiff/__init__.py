"""`fluxform diff`: what a change between two git revisions does to each cluster.

workflow.py   render both revisions (changed-only or full) and compare
selection.py  which owners a changed-only render renders, and what it writes for them
changed.py    the changed-only index: which owners a set of changed files can affect
index_key.py  what a kept index is keyed by (every setting that changes a render)
carry.py      the head's index, carried forward from the base's after a changed-only diff
compare.py    base desired state vs head desired state, per owner
"""
