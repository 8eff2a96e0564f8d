"""Release name/namespace derivation (helm-controller GetReleaseName + ShortenName)."""

from __future__ import annotations

import pytest

from fluxform.helm.names import release_name_for, release_namespace_for, shorten_name


@pytest.mark.parametrize(
    ("name", "target", "explicit", "expected"),
    [
        ("podinfo", "", "", "podinfo"),
        ("podinfo", "apps", "", "apps-podinfo"),
        ("podinfo", "apps", "custom", "custom"),
        # 40 bytes + "-" + 12 hex; the hash agrees with the Flux docs' example
        (
            "a-nice-object-name",
            "a-very-lengthy-target-namespace-with",
            "",
            "a-very-lengthy-target-namespace-with-a-n-97af5d7f41f3",
        ),
        # helm-controller internal/release/name_test.go
        (
            "release-name-with-very-long-name-which-is-longer-than-53-characters",
            "",
            "",
            "release-name-with-very-long-name-which-i-788ca0d0d7b0",
        ),
        (
            "another-release-name-with-very-long-name-which-is-longer-than-53-characters",
            "",
            "",
            "another-release-name-with-very-long-name-7e72150d5a36",
        ),
    ],
    ids=["plain", "target-namespace", "explicit", "shortened-target", "shortened-1", "shortened-2"],
)
def test_release_name(name: str, target: str, explicit: str, expected: str) -> None:
    assert release_name_for(name, target_namespace=target, release_name=explicit) == expected


def test_shorten_keeps_53_and_shortens_54() -> None:
    exactly = "x" * 53
    assert shorten_name(exactly) == exactly
    longer = "x" * 54
    short = shorten_name(longer)
    assert len(short) == 53 and short.startswith("x" * 40 + "-")
    assert short != shorten_name("x" * 55)  # the hash is of the full name


def test_release_namespace() -> None:
    assert release_namespace_for("flux-system", target_namespace="") == "flux-system"
    assert release_namespace_for("flux-system", target_namespace="apps") == "apps"
