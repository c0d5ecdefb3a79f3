"""The one error a condition raises: which clause, and what is wrong with it."""

from __future__ import annotations


class ConditionError(ValueError):
    """A condition document that cannot be used.

    `clause` locates the offending part as a JSON path from the document's root, such as
    `where.$or[1].level.$gte` (keys joined by `.`, array positions in brackets, counted
    from 0); `problem` says what is wrong with it.
    """

    def __init__(self, clause: str, problem: str) -> None:
        super().__init__(f"{clause}: {problem}")
        self.clause = clause
        self.problem = problem
