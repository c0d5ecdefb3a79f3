"""Domain errors. Transports map each to one status code, in one place."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""


class InvalidInput(DomainError):
    """The caller sent something malformed; `field` names the offending field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class ProfileNotFound(DomainError):
    def __init__(self, player_id: str) -> None:
        super().__init__(f"no profile with player_id {player_id!r}")
        self.player_id = player_id


class ProfileAlreadyExists(DomainError):
    def __init__(self, player_id: str) -> None:
        super().__init__(f"a profile with player_id {player_id!r} already exists")
        self.player_id = player_id


class CampaignNotFound(DomainError):
    def __init__(self, game: str, name: str) -> None:
        super().__init__(f"no campaign {name!r} in game {game!r} in the current catalog")
        self.game = game
        self.name = name


class PreconditionFailed(DomainError):
    """The request was valid but the state it relies on is gone; redo it from the start."""


class Overloaded(DomainError):
    """A bounded resource is full; retry later."""


class StreamIdle(DomainError):
    """The caller's stream sent nothing for too long and was ended; what it sent before
    was handled."""


class StoredProfileCorrupt(DomainError):
    """A stored profile no longer passes validation (edited by hand, or by another
    writer): the caller's request was fine, the data is not."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"stored profile is not valid: {problem}")


class DependencyUnavailable(DomainError):
    """A dependency (profile store, campaign service) cannot be reached; safe to retry.

    `str(error)` is the detail, for the operator's log: it may name files, hosts and
    driver errors. `public` is all a client is told: what could not be done and which
    dependency failed, nothing about where it lives.
    """

    default_public = "a service this call needs is unavailable; retry later"

    def __init__(self, detail: str, *, public: str | None = None) -> None:
        super().__init__(detail)
        self.public = public or self.default_public


class DependencyTimeout(DependencyUnavailable):
    """The dependency did not answer within the caller's deadline."""

    default_public = "a service this call needs did not answer in time"
