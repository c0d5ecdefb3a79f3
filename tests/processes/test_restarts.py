"""What a worker's death leads to: a restart after a delay, a failed start, giving up."""

from __future__ import annotations

from services.processes.restarts import (
    QUICK_DEATHS_BEFORE_GIVING_UP,
    FailStart,
    GiveUp,
    Restart,
    RestartPolicy,
    SlotHistory,
)

POLICY = RestartPolicy(first_delay=0.5, max_delay=4.0, stable_after=10.0, give_up_after=5)


def test_restart_delays_double_while_a_worker_keeps_dying_quickly_up_to_the_cap() -> None:
    assert [POLICY.delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_a_slot_that_never_served_fails_the_start_however_long_it_ran() -> None:
    assert SlotHistory(POLICY).died(lived=0.1) == FailStart()
    assert SlotHistory(POLICY).died(lived=1000.0) == FailStart()


def test_a_slot_that_served_is_restarted_even_when_its_next_process_never_served() -> None:
    history = SlotHistory(POLICY, served=True)
    assert history.died(lived=0.1) == Restart(0.5)
    assert history.died(lived=0.1) == Restart(1.0)  # this one had not served


def test_the_fifth_quick_death_in_a_row_gives_up() -> None:
    history = SlotHistory(POLICY, served=True)
    verdicts = [history.died(lived=9.9) for _ in range(5)]
    assert verdicts == [Restart(0.5), Restart(1.0), Restart(2.0), Restart(4.0), GiveUp(5)]


def test_a_death_after_a_stable_run_starts_the_count_over() -> None:
    history = SlotHistory(POLICY, served=True)
    for _ in range(4):
        history.died(lived=1.0)
    assert history.died(lived=10.0) == Restart(0.5)
    assert [history.died(lived=1.0) for _ in range(5)][-1] == GiveUp(5)


def test_the_default_gives_up_after_the_documented_number() -> None:
    assert RestartPolicy().give_up_after == QUICK_DEATHS_BEFORE_GIVING_UP == 5
