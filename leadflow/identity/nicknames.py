"""Nicknames from a maintained source: the ``nicknames`` package (carltonnorthern/nicknames,
a hand-curated table of English given names and their nicknames), plus a short supplement of
short forms from other languages that the package does not cover.

Matching compares a canonical key, so 'Bob Smith' and 'Robert Smith' agree on the first name.
The package's relation is many-to-many ('bob' is a nickname of robert, bert and bobby), so only
nicknames of a single name get a key; ``equivalent_pairs`` keeps every direct relation of the
table, so 'Bob' and 'Robert' still count as the same given name when the records are compared
(blocking finds them through surname, company, address or phone).
"""

from __future__ import annotations

from functools import lru_cache

from nicknames import NickNamer


@lru_cache(maxsize=1)
def _relations() -> tuple[tuple[str, str], ...]:
    """(canonical, nickname) pairs: the package's table and the supplement, lower-case."""
    nn = NickNamer()
    pairs = {(c, n) for c, nicks in nn.nickname_lookup.items() for n in nicks if c != n}
    for line in _TABLE_INTL.strip().splitlines():
        canon, nicks = line.split(":")
        pairs |= {(canon.strip(), n.strip()) for n in nicks.split()}
    return tuple(sorted(pairs))


@lru_cache(maxsize=1)
def nickname_map() -> dict[str, str]:
    """nickname -> canonical (lower-case) for nicknames of exactly one name ('jim' -> james);
    canonical names map to themselves implicitly. A nickname of several names ('bob': robert,
    bert, bobby) gets no key of its own: a key would have to pick one of them and so make, say,
    Bill and Robert one given name; such pairs are still recognised in ``equivalent_pairs``."""
    canon_of: dict[str, set[str]] = {}
    for c, n in _relations():
        canon_of.setdefault(n, set()).add(c)
    return {n: next(iter(cs)) for n, cs in canon_of.items() if len(cs) == 1}


# Given names from other languages with their usual short forms.
_TABLE_INTL = """
johannes: hans johann
wolfgang: wolf
francesco: franco
giuseppe: beppe peppe
alejandro: alex
francisco: paco fran pancho
guillaume: will
jacqueline: jackie
stephen: steven
"""


@lru_cache(maxsize=1)
def equivalent_pairs() -> frozenset[str]:
    """'a|b' for every two given names the table relates directly, and for every two that
    share their key (both orders)."""
    out = set()
    for c, n in _relations():
        out.add(f"{c}|{n}")
        out.add(f"{n}|{c}")
    by_key: dict[str, set[str]] = {}
    for n, c in nickname_map().items():
        by_key.setdefault(c, {c}).add(n)
    for g in by_key.values():
        out.update(f"{x}|{y}" for x in g for y in g if x != y)
    return frozenset(out)
