"""fluxform.yaml / [tool.fluxform]: discovery, defaults, relative paths, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from fluxform.config import ConfigError, StateConfig, current_context, load_config

FULL = """\
cluster: clusters/prod
kubeconfig: kube/config
context: prod
state:
  backend: kubernetes
  path: .fluxform/prod.json
  namespace: fluxform-state
  name: prod-eu
  recipients: [age1abc, "ssh-ed25519 AAAA"]
  history: 5
  lockTimeout: 30
  leaseSeconds: 2
"""


def test_full_yaml_config_is_read_relative_to_its_directory(tmp_path: Path) -> None:
    (tmp_path / "fluxform.yaml").write_text(FULL)
    deep = tmp_path / "apps" / "base"
    deep.mkdir(parents=True)
    config = load_config(None, deep)
    assert config.root == tmp_path.resolve() and config.source == tmp_path / "fluxform.yaml"
    assert config.cluster_path == "clusters/prod" and config.context == "prod"
    assert config.kubeconfig == tmp_path.resolve() / "kube" / "config"
    assert config.state == StateConfig(
        backend="kubernetes",
        path=tmp_path.resolve() / ".fluxform" / "prod.json",
        namespace="fluxform-state",
        name="prod-eu",
        recipients=("age1abc", "ssh-ed25519 AAAA"),
        history_limit=5,
        lock_timeout=30.0,
        lease_seconds=2.0,
    )


def test_pyproject_tool_table_is_an_alternative(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.fluxform]\ncluster = "clusters/dev"\n\n'
        '[tool.fluxform.state]\nbackend = "local"\nhistory = 3\n'
    )
    config = load_config(None, tmp_path)
    assert config.cluster_path == "clusters/dev" and config.state.history_limit == 3


def test_pyproject_without_tool_table_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "fluxform.yaml").write_text("cluster: outer\n")
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert load_config(None, inner).cluster_path == "outer"


def test_no_config_gives_defaults_rooted_at_start(tmp_path: Path) -> None:
    config = load_config(None, tmp_path)
    assert config.source is None and config.root == tmp_path.resolve()
    assert config.state == StateConfig()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("state:\n  backend: s3\n", "state.backend: 's3' is not one of local, kubernetes"),
        ("state:\n  histroy: 3\n", "state: unknown key 'histroy'"),
        ("clustr: x\n", "config: unknown key 'clustr'"),
        ("state:\n  history: -1\n", "state.history: expected an integer >= 0"),
        ("state:\n  history: 2.5\n", "state.history: expected an integer >= 0"),
        ("state:\n  leaseSeconds: 0\n", "state.leaseSeconds: expected a number >= 1"),
        ("state:\n  recipients: {a: b}\n", "state.recipients: expected a list"),
        ("context: 3\n", "context: expected a string"),
        ("- a\n", "config: expected a mapping"),
        ("a: [\n", "cannot read config file"),
    ],
    ids=["backend", "typo", "top-typo", "negative", "float-history", "lease", "recipients", "context", "list", "yaml"],
)
def test_bad_config_names_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "fluxform.yaml").write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(None, tmp_path)
    line = err.value.one_line()
    assert str(tmp_path / "fluxform.yaml") in line and message in line


def test_explicit_config_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml", tmp_path)


def test_current_context_follows_kubeconfig_env_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.write_text("apiVersion: v1\nkind: Config\n")
    second.write_text("apiVersion: v1\nkind: Config\ncurrent-context: staging\n")
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'missing'}:{first}:{second}")
    assert current_context(None) == "staging"
    assert current_context(first) == ""
