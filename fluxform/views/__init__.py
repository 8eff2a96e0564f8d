"""Everything fluxform prints: plans, revision diffs and tables, as text, JSON and Markdown.

Views only format what the library hands them; they never compute a plan or see plaintext.

    plan.py       plans (text, JSON, Markdown)
    revdiff.py    revision diffs (text, JSON, Markdown)
    tables.py     `fluxform get` tables and `fluxform build` manifests
"""
