"""What the supervisor does when a worker dies: start it again after a delay, fail the
whole start, or give up so that whatever runs the server starts it afresh."""

from __future__ import annotations

from dataclasses import dataclass

# Quick deaths in a row (each soon after its start) before the parent gives up. A
# worker that keeps dying will not be cured by this parent: the store or the host is
# wrong for it. Past a few tries the doubling delay has already grown large, and a
# pod serving on fewer workers than it was sized for would look healthy to every
# probe that lands on a survivor; exiting lets Kubernetes (or systemd) restart the
# whole server, with its own backoff, where an operator sees it.
QUICK_DEATHS_BEFORE_GIVING_UP = 5


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    first_delay: float = 0.5
    max_delay: float = 30.0
    # A worker that ran this long before it died starts the delays over.
    stable_after: float = 10.0
    give_up_after: int = QUICK_DEATHS_BEFORE_GIVING_UP

    def delay(self, quick_deaths: int) -> float:
        """Before the next start, after `quick_deaths` deaths in a row soon after start."""
        return min(self.max_delay, self.first_delay * 2.0 ** max(0, quick_deaths - 1))


@dataclass(frozen=True, slots=True)
class Restart:
    delay: float


@dataclass(frozen=True, slots=True)
class FailStart:
    """This worker has never served: the server cannot start (a bad store, a port)."""


@dataclass(frozen=True, slots=True)
class GiveUp:
    quick_deaths: int


Verdict = Restart | FailStart | GiveUp


@dataclass(slots=True)
class SlotHistory:
    """One worker slot's past, over the processes that have been it."""

    policy: RestartPolicy
    # Some process of this slot has served: a later one failing before it serves is
    # a crash to restart, not a start-up that cannot work.
    served: bool = False
    quick_deaths: int = 0

    def died(self, lived: float) -> Verdict:
        """`lived`: seconds from its start to its death."""
        if not self.served:
            return FailStart()
        quick = lived < self.policy.stable_after
        self.quick_deaths = self.quick_deaths + 1 if quick else 0
        if self.quick_deaths >= self.policy.give_up_after:
            return GiveUp(self.quick_deaths)
        return Restart(self.policy.delay(self.quick_deaths))
