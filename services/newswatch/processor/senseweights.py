"""The weights and thresholds of toponym disambiguation (see :mod:`newswatch.processor.resolve` for
the rules they tune), shared by the Python definition and the native reader
(:func:`~newswatch.processor.sensenative.native_reader` hands them across once). Constants only.
"""

from __future__ import annotations

ALT_ANYWHERE_POPULATION = 1_000_000
COUNTRY_BONUS = 1.5  # one other name of the article in that country; each further one adds a step
COUNTRY_STEP = 0.5
COUNTRY_STEPS = 3
ADMIN1_BONUS = 3.0
ADMIN1_POSSIBLE_BONUS = 1.5  # another name of the article could lie in the same state
POSSIBLE_MAX_READINGS = 12
NEIGHBOUR_BONUS = 0.5
PAIR_BONUS = 6.0
LOCAL_PENALTY = 4.0  # a country or state read where a town's institution follows its name
ALT_LOCAL_PENALTY = 2.0  # an alternate name read where a town's institution follows it
HOME_BONUS = 2.5  # an option in the article's home country (see _Context.home)
HOME_MIN_NAMES = 3  # other names that must support the home country ...
HOME_MARGIN = 2  # ... at least this many times as many as support any other country
ROUNDS = 1
# The country bonus by the number of other names in that country (1, 2, ... COUNTRY_STEPS + 1 or more).
_COUNTRY_BONUSES = [
    0.0,
    *(COUNTRY_BONUS + COUNTRY_STEP * min(n - 1, COUNTRY_STEPS) for n in range(1, COUNTRY_STEPS + 2)),
]
