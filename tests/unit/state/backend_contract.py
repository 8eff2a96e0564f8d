"""The checks every state backend must pass (Terraform's states/remote/testing.go idea).

A test module subclasses `BackendContract` and provides the `make_backend` fixture: a
factory returning a new backend object on the *same* store each call, so two objects play
two fluxform processes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

import pytest

from fluxform.errors import StateError
from fluxform.state.backend import StateBackend, locked
from fluxform.state.lock import LockHeld, LockLost, new_lock_info
from fluxform.state.model import new_state, next_revision
from tests.support.states import fleet_state, small_state

MakeBackend = Callable[[], StateBackend]


class BackendContract:
    """Subclass and define a `make_backend` fixture."""

    def test_read_of_an_empty_store_is_none(self, make_backend: MakeBackend) -> None:
        assert make_backend().read() is None

    def test_first_write_stores_serial_one_and_reads_back_equal(self, make_backend: MakeBackend) -> None:
        state = small_state()
        written = make_backend().write(state)
        assert written.serial == 1
        assert make_backend().read() == written == replace(state, serial=1)

    def test_each_write_bumps_the_serial(self, make_backend: MakeBackend) -> None:
        backend = make_backend()
        state = backend.write(small_state())
        for expected in (2, 3, 4):
            state = backend.write(next_revision(state, state.owners, operation="apply", by="me"))
            assert state.serial == expected
        stored = make_backend().read()
        assert stored is not None and stored.serial == 4 and len(stored.history) == 3

    def test_write_is_refused_when_someone_wrote_since_read(self, make_backend: MakeBackend) -> None:
        make_backend().write(small_state())
        mine, theirs = make_backend(), make_backend()
        my_copy, their_copy = mine.read(), theirs.read()
        assert my_copy is not None and their_copy is not None
        theirs.write(next_revision(their_copy, {}, operation="apply", by="them"))
        with pytest.raises(StateError, match="changed since it was read"):
            mine.write(next_revision(my_copy, my_copy.owners, operation="apply", by="me"))
        stored = make_backend().read()
        assert stored is not None and stored.written_by == "them" and stored.serial == 2

    def test_other_lineage_is_refused_unless_forced(self, make_backend: MakeBackend) -> None:
        backend = make_backend()
        first = backend.write(small_state())
        other = replace(new_state("test"), serial=7)
        with pytest.raises(StateError, match="different state"):
            backend.write(other)
        forced = backend.write(other, force=True)
        assert forced.lineage == other.lineage and forced.serial == 8
        stored = make_backend().read()
        assert stored is not None and stored.lineage != first.lineage

    def test_second_locker_is_told_who_holds_the_lock(self, make_backend: MakeBackend) -> None:
        holder, other = make_backend(), make_backend()
        info = new_lock_info("apply")
        lock_id = holder.lock(info)
        with pytest.raises(LockHeld) as err:
            other.lock(new_lock_info("plan"))
        assert err.value.holder == info
        line = err.value.one_line()
        assert info.who in line and "apply" in line and f"force-unlock {lock_id}" in line
        assert other.lock_holder() == info
        holder.unlock(lock_id)
        assert other.lock_holder() is None
        other.unlock(other.lock(new_lock_info("plan")))

    def test_unlock_with_a_foreign_id_is_refused(self, make_backend: MakeBackend) -> None:
        holder, other = make_backend(), make_backend()
        lock_id = holder.lock(new_lock_info("apply"))
        with pytest.raises(StateError):
            other.unlock(lock_id)
        with pytest.raises(StateError):
            holder.unlock("not-the-id")
        holder.unlock(lock_id)

    def test_write_while_another_holds_the_lock_is_refused(self, make_backend: MakeBackend) -> None:
        holder, other = make_backend(), make_backend()
        info = new_lock_info("apply")
        lock_id = holder.lock(info)
        with pytest.raises(LockHeld) as err:
            other.write(small_state())
        assert err.value.holder.id == info.id
        written = holder.write(small_state())  # the holder writes under its own lock
        holder.unlock(lock_id)
        assert other.read() == written

    def test_force_unlock_needs_the_current_id_and_the_old_holder_cannot_write(self, make_backend: MakeBackend) -> None:
        holder, operator = make_backend(), make_backend()
        lock_id = holder.lock(new_lock_info("apply"))
        with pytest.raises(StateError, match="does not match"):
            operator.force_unlock("wrong-id")
        operator.force_unlock(lock_id)
        assert operator.lock_holder() is None
        with pytest.raises(LockLost):
            holder.write(small_state())
        assert operator.read() is None
        operator.unlock(operator.lock(new_lock_info("apply")))
        with pytest.raises(StateError, match="not locked"):
            operator.force_unlock(lock_id)

    def test_a_waiting_locker_gets_the_lock_when_it_is_released(self, make_backend: MakeBackend) -> None:
        holder, waiter = make_backend(), make_backend()
        lock_id = holder.lock(new_lock_info("apply"))
        releaser = threading.Timer(0.3, holder.unlock, args=(lock_id,))
        releaser.start()
        try:
            waited = waiter.lock(new_lock_info("apply"), timeout=10.0)
        finally:
            releaser.join()
        waiter.unlock(waited)

    def test_lock_wait_gives_up_after_the_timeout(self, make_backend: MakeBackend) -> None:
        holder, waiter = make_backend(), make_backend()
        lock_id = holder.lock(new_lock_info("apply"))
        start = time.monotonic()
        with pytest.raises(LockHeld):
            waiter.lock(new_lock_info("apply"), timeout=0.3)
        assert time.monotonic() - start >= 0.3  # it did wait, not fail at once
        holder.unlock(lock_id)

    def test_locked_releases_when_the_block_fails(self, make_backend: MakeBackend) -> None:
        backend = make_backend()
        with pytest.raises(RuntimeError), locked(backend, "apply"):
            raise RuntimeError("boom")
        assert make_backend().lock_holder() is None

    def test_large_state_round_trips(self, make_backend: MakeBackend) -> None:
        state = fleet_state(n_objects=600, revisions=3, per_owner=60, changed_owners=3)
        written = make_backend().write(state)
        assert make_backend().read() == written
        again = make_backend().write(next_revision(written, {}, operation="apply", by="me"))
        reread = make_backend().read()
        assert reread == again and reread is not None and reread.owners == {}
