"""Secret values in state: sealed to age/SSH recipients, or omitted; never plaintext."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import replace

import pytest

from fluxform.errors import StateError
from fluxform.objects import ObjectId
from fluxform.state.model import state_from_json, state_to_json
from fluxform.state.secrets import (
    parse_recipients,
    restore_secret_manifest,
    secret_state_object,
)
from tests.support.keys import generate_age_key, generate_ssh_key
from tests.support.states import masked_secret, owner, small_state

SECRET_ID = ObjectId("apps", "db", "", "Secret")
PASSWORD = "correct horse battery staple"


def _plain() -> dict[str, object]:
    encoded = base64.b64encode(PASSWORD.encode()).decode()
    return {**masked_secret("apps", "db", "00"), "data": {"password": encoded}, "stringData": {"user": "admin"}}


def _masked() -> dict[str, object]:
    return {**masked_secret("apps", "db", "ab12"), "stringData": {"user": "***(cd34)"}}


def _ssh_keypair() -> tuple[str, str]:
    key = generate_ssh_key()
    return key.public, key.private


def _age_keypair() -> tuple[str, str]:
    key = generate_age_key()
    return key.recipient, key.identity


@pytest.mark.parametrize("keypair", [_age_keypair, _ssh_keypair], ids=["age", "ssh"])
def test_sealed_values_restore_with_identity_and_never_appear_in_state(keypair: Callable[[], tuple[str, str]]) -> None:
    recipient, identity = keypair()
    obj = secret_state_object(SECRET_ID, "v1", masked=_masked(), plain=_plain(), recipients=[recipient])
    assert obj.sealed_values and not obj.secret_values_omitted
    restored = restore_secret_manifest(obj, [identity])
    assert restored["data"] == _plain()["data"] and restored["stringData"] == {"user": "admin"}
    assert restored["metadata"] == _masked()["metadata"]

    state = small_state()
    holder = owner("db", [obj])
    text = state_to_json(replace(state, owners={holder.id: holder}))
    for secret_text in (PASSWORD, base64.b64encode(PASSWORD.encode()).decode(), "admin"):
        assert secret_text not in text
    reread = state_from_json(text, "mem").objects()[SECRET_ID][1]
    assert restore_secret_manifest(reread, [identity])["data"] == _plain()["data"]


def test_wrong_or_missing_identity_is_a_clear_error() -> None:
    recipient, _ = _age_keypair()
    _, other = _age_keypair()
    obj = secret_state_object(SECRET_ID, "v1", masked=_masked(), plain=_plain(), recipients=[recipient])
    with pytest.raises(StateError, match="cannot decrypt") as err:
        restore_secret_manifest(obj, [other])
    assert PASSWORD not in err.value.one_line()
    with pytest.raises(StateError, match="no age identity"):
        restore_secret_manifest(obj, ["not a key"])


@pytest.mark.parametrize(
    ("plain", "recipients"),
    [(None, ["age"]), (_plain(), [])],
    ids=["no-plaintext-given", "no-recipients"],
)
def test_without_recipients_values_are_omitted_and_marked(
    plain: dict[str, object] | None, recipients: list[str]
) -> None:
    recipients = [_age_keypair()[0]] if recipients else []
    obj = secret_state_object(SECRET_ID, "v1", masked=_masked(), plain=plain, recipients=recipients)
    assert obj.secret_values_omitted
    with pytest.raises(StateError) as err:
        restore_secret_manifest(obj, [])
    assert "re-render it from the owner's recorded source revision" in err.value.one_line()
    state = small_state()
    holder = owner("db", [obj])
    text = state_to_json(replace(state, owners={holder.id: holder}))
    assert '"secretValues":"omitted"' in text


def test_unmasked_secret_object_is_refused_at_creation() -> None:
    with pytest.raises(StateError, match="not masked"):
        secret_state_object(SECRET_ID, "v1", masked=_plain(), plain=None, recipients=[])


def test_last_applied_annotation_is_refused() -> None:
    masked = _masked()
    masked["metadata"] = {"name": "db", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}}
    with pytest.raises(StateError, match="last-applied"):
        secret_state_object(SECRET_ID, "v1", masked=masked, plain=None, recipients=[])


@pytest.mark.parametrize("bad", ["age1notakey", "ssh-ed25519 AAAA", ""], ids=["age", "ssh", "empty"])
def test_bad_recipient_is_named(bad: str) -> None:
    with pytest.raises(StateError, match="not an age or SSH public key"):
        parse_recipients([bad])
