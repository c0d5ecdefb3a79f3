"""Targeting conditions: MongoDB query documents over the stored profile.

A campaign's `where` (and a named segment) is a MongoDB query document over the profile
as games store it (`level`, `total_spent`, `created`, `clan.id`, `devices.model`,
`inventory.item_1`, custom fields by `_name`), with MongoDB's semantics: implicit
equality, `$eq $ne $gt $gte $lt $lte $in $nin $exists $and $or $nor $not $elemMatch`; a
missing field fails comparisons and satisfies `$ne`/`$nin`; an array matches when any
element does (or when it equals the operand whole); values of different types never
compare (numbers compare across int and float; `null` equals a missing field).

Extensions, few:
- times: `{"$date": "2022-01-25T00:00:00Z"}` (Extended JSON; a plain string is only a
  string, as in MongoDB) and `{"$ago": "14d"}` (`d h m s`), that long before `now`;
- `{"$segment": "name"}`: the named segment holds (segments may use segments; an
  unknown name or a cycle is an error);
- `context.<key>`: the request's context, a flat mapping of JSON values;
- `$veq $vne $vgt $vgte $vlt $vlte`: semantic versions (versions.py).

`parse_condition` validates a whole document (ConditionError names the clause);
`Condition` evaluates it (reference), compiles it (fast), explains a failure, translates
it into a MongoDB filter and back into its document. Pure: no store, no transport.
"""

from services.domain.conditions.condition import Condition
from services.domain.conditions.errors import ConditionError
from services.domain.conditions.explain import ClauseFailure
from services.domain.conditions.legacy import legacy_matchers_condition
from services.domain.conditions.mongo_filter import MongoFilter
from services.domain.conditions.parser import parse_condition, parse_segments

__all__ = [
    "ClauseFailure",
    "Condition",
    "ConditionError",
    "MongoFilter",
    "legacy_matchers_condition",
    "parse_condition",
    "parse_segments",
]
