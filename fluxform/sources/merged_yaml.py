"""The text source-watcher writes for a file an ArtifactGenerator merges (`strategy: Merge`).

The merged file's bytes feed the artifact digest, so they must be Go's: sigs.k8s.io/yaml hands
the merged map to go-yaml v2, whose encoder double-quotes a string that would read back as
another type (`"true"`, `""`, `"1e3"`, `"2001-12-14"`, base-60 floats such as `"1:20"`) and
otherwise asks for a plain scalar, which its emitter single-quotes when the text cannot be plain
(`'a: b'`). fluxform's everyday dumper single-quotes both kinds, which reads back the same but
hashes differently.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.nodes import ScalarNode

from fluxform.yamlio import GoDumper

__all__ = ["dump_merged"]

_STR_TAG = "tag:yaml.org,2002:str"
# go-yaml v2 encode.go isBase60Float: YAML 1.1 sexagesimal numbers are quoted too
_BASE60_FLOAT = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")


class _MergedFileDumper(GoDumper):
    def represent_go_v2_str(self, data: str) -> ScalarNode:
        tag: str = self.resolve(ScalarNode, data, (True, False))  # type: ignore[no-untyped-call]
        reads_back_as_another_type = tag != _STR_TAG
        if "\n" not in data and (reads_back_as_another_type or _BASE60_FLOAT.match(data)):
            return self.represent_scalar(_STR_TAG, data, style='"')
        return self.represent_str_block_aware(data)


_MergedFileDumper.add_representer(str, _MergedFileDumper.represent_go_v2_str)


def dump_merged(data: Any) -> str:
    """`data` as source-watcher writes a merged YAML file: sorted keys, block style."""
    return yaml.dump(data, Dumper=_MergedFileDumper, sort_keys=True, allow_unicode=True, width=1_000_000)
