"""The pure matching engine: profile x campaigns x clock -> matched campaign names.

Imports nothing from transport or storage. `CompiledCatalog` serves requests;
`match_reference` is the rule-by-rule engine it is tested against; `explain` says why.
"""

from services.matching.compiled import CompiledCatalog
from services.matching.experiments import Assignment
from services.matching.explain import Explanation, Outcome, explain
from services.matching.reference import match_reference

__all__ = ["Assignment", "CompiledCatalog", "Explanation", "Outcome", "explain", "match_reference"]
