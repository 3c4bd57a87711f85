"""Mapping a delivered frame onto the canonical fields of its kind, vectorised.

Order: rename mapped columns → value maps (per field or per source column, and ``"*"`` for
every field) → constants → derived record id → typing. A value that cannot be typed makes
its row a reject naming the field, the column and why; the other rows go on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from leadflow.canonical import BAND_FIELDS, CLOSED_LISTS, CODE_FIELDS, CODE_SEPARATORS, FIELDS, KEYS, SPLIT_FIELDS
from leadflow.config import Source
from leadflow.ingest import signals
from leadflow.ingest.coerce import WHY, convert
from leadflow.vocab._unique import per_unique
from leadflow.vocab.names import split_full_name
from leadflow.vocab.numbers import band_counts


class HeaderProblem(Exception):
    """A delivery whose header cannot be mapped (whole delivery rejected): ``columns`` are the
    source columns at fault, ``fields`` the canonical fields they feed."""

    def __init__(self, message: str, columns: list[str], fields: list[str]) -> None:
        super().__init__(message)
        self.columns, self.fields = columns, fields


class MissingColumns(HeaderProblem):
    """Mapped source columns absent from a delivery."""

    def __init__(self, columns: list[str], fields: list[str]) -> None:
        pairs = ", ".join(f"{f} <- {c!r}" for c, f in zip(columns, fields))
        super().__init__(f"mapped column(s) missing from the delivery: {pairs}", columns, fields)


class RepeatedColumns(HeaderProblem):
    """Mapped source columns the header names more than once: which of them holds the field is
    anyone's guess, and guessing would load the wrong email."""

    def __init__(self, repeats: dict[str, int], fields: list[str]) -> None:
        pairs = ", ".join(f"{f} <- {c!r} ({n} columns)" for (c, n), f in zip(repeats.items(), fields))
        super().__init__(f"mapped column(s) named more than once in the header: {pairs}; rename or drop the "
                         f"extra column, or map the repeat by name ({next(iter(repeats)) + '.1'!r})",
                         list(repeats), fields)


@dataclass
class Mapped:
    """The typed rows of one chunk and its rejects (row_number, record, reasons)."""

    frame: pd.DataFrame                      # canonical fields + row_number
    attribute_columns: list[str]             # unmapped source columns kept as attributes
    rejects: pd.DataFrame                    # row_number, record (dict), reasons (list[str])
    attrs: pd.DataFrame = field(default_factory=pd.DataFrame)  # attribute columns, same rows as frame
    warnings: list[str] = field(default_factory=list)
    signals: pd.DataFrame = field(default_factory=signals.empty)  # opt-out signals of every row


def key_field(kind: str) -> str | None:
    """The single text id field of a kind (derivable by ``record_id``), if it has one."""
    keys = KEYS[kind]
    return keys[0] if len(keys) == 1 and FIELDS[kind][keys[0]] == "str" else None


def header_names(source: Source, columns: list[str]) -> list[str]:
    """The delivered header, with each mapped or declared column the header lacks as written
    but holds once in another case or spacing ('EMAIL', 'do not  email') given the name the
    source uses. Two header columns that read alike are not guessed between (the mapped
    column stays missing)."""
    out = [str(c) for c in columns]
    present = set(out)
    taken = set(source.mapping) | set(source.attributes)
    heard = _loose(pd.Series(out, dtype=object)).tolist()
    for want in dict.fromkeys([*source.mapping, *source.attributes]):
        if want in present:
            continue
        spelled = _loose(pd.Series([want], dtype=object)).iloc[0]
        hits = [i for i, c in enumerate(out) if c not in taken and heard[i] == spelled]
        if len(hits) == 1:
            out[hits[0]] = want
            taken.add(want)
    return out


def with_header_names(source: Source, raw: pd.DataFrame) -> pd.DataFrame:
    """``raw`` with its columns named as the source names them (``header_names``)."""
    names = header_names(source, list(raw.columns))
    return raw if names == list(raw.columns) else raw.set_axis(names, axis=1)


def missing_columns(source: Source, columns: list[str]) -> list[str]:
    present = set(header_names(source, columns))
    return [c for c in source.mapping if c not in present]


def _repeats(source: Source, col: str, present: set[str]) -> list[str]:
    """The columns a header gave ``col``'s name again ('Email.1', 'Email.2': ``formats._dedupe``),
    unless the mapping names the first repeat itself (then it has chosen)."""
    if col not in present or f"{col}.1" in source.mapping:
        return []
    out, n = [], 1
    while f"{col}.{n}" in present:
        out.append(f"{col}.{n}")
        n += 1
    return out


def repeated_columns(source: Source, columns: list[str]) -> dict[str, int]:
    """Mapped columns the header names more than once, with how many times."""
    present = set(header_names(source, columns))
    return {c: 1 + len(r) for c in source.mapping if (r := _repeats(source, c, present))}


def _value_map(source: Source, fld: str | None, col: str) -> dict[Any, Any]:
    vm: dict[Any, Any] = {}
    vm.update(source.value_maps.get("*", {}))
    vm.update(_own_map(source, fld, col))
    return vm


def _own_map(source: Source, fld: str | None, col: str) -> dict[Any, Any]:
    """The value maps written for this field or column (not ``"*"``)."""
    vm: dict[Any, Any] = dict(source.value_maps.get(col, {}))
    if fld:
        vm.update(source.value_maps.get(fld, {}))
    return vm


def apply_value_map(s: pd.Series, vm: dict[Any, Any], loose: dict[Any, Any] | None = None) -> pd.Series:
    """Replace matches of ``vm``; a null target means missing. Values stay text.

    Keys also in ``loose`` (a field's or a column's own map) match a value typed loosely too:
    ignoring case and the spaces around it or doubled inside it (``" closed  WON"`` is
    ``Closed Won``), unless two keys spelled that way map to different values (then only exact
    matches count for them). ``"*"`` keys match exactly: they apply to every column, and reading
    every value of every column loosely would cost each delivery a pass over all its text."""
    if not vm:
        return s
    keys = {str(k): (None if v is None else str(v)) for k, v in vm.items()}
    hit = s.isin(list(keys))
    near = _loose_hits(s, hit, {str(k): keys[str(k)] for k in (loose or {})})
    if not hit.any() and near.empty:
        return s
    out = s.astype(object).copy()
    out[hit] = s[hit].map(keys)
    out[near.index] = near
    return out.where(out.notna(), None)


def _loose(s: pd.Series) -> pd.Series:
    """How a value reads ignoring case and spacing: trimmed, case-folded, spaces as one."""
    return s.astype("string").str.casefold().str.split().str.join(" ")


def _loose_hits(s: pd.Series, exact: pd.Series, keys: dict[str, str | None]) -> pd.Series:
    """Target per value (indexed like ``s``) of the values that match a key only loosely.
    Each distinct value is spelled once (a field's own map is for a field of few values)."""
    if not keys:
        return pd.Series(dtype=object)
    spelled = _loose(pd.Series(list(keys), dtype=object))
    target = pd.Series(list(keys.values()), index=spelled.to_numpy(), dtype=object)
    agreed = target.groupby(level=0, dropna=False).nunique(dropna=False) == 1
    target = target[agreed.reindex(target.index).to_numpy()]
    target = target[~target.index.duplicated()]
    todo = s.notna().to_numpy() & ~exact.to_numpy(dtype=bool)
    if target.empty or not todo.any():
        return pd.Series(dtype=object)
    spelled_vals = per_unique(s[todo], _loose)
    near = spelled_vals[spelled_vals.isin(target.index).to_numpy(dtype=bool)]
    return pd.Series(target.reindex(near.to_numpy(dtype=object)).to_numpy(dtype=object), index=near.index, dtype=object)


def _iso_code(s: pd.Series) -> pd.Series:
    """Three letters in any case and spacing as the capitals of an ISO code; else as delivered."""
    t = s.astype("string").str.strip().str.upper()
    code = t.str.fullmatch(r"[A-Z]{3}").fillna(False).astype(bool)
    return s.astype(object).where(~code, t.astype(object))


def spelled_as_code(s: pd.Series) -> pd.Series:
    """A code as leadflow writes it: trimmed, lower case, each run of spaces, hyphens or
    slashes one underscore (``"Step Reached"`` -> ``step_reached``); blank is missing."""
    norm = s.astype("string").str.strip().str.lower().str.replace(CODE_SEPARATORS, "_", regex=True)
    return norm.astype(object).where(norm.notna() & (norm != ""), None)


def derived_id_field(source: Source) -> str | None:
    """The id field whose values this source does not deliver but leadflow derives (``record_id:
    row_number`` or ``hash``), else None.

    A derived id names a *record* (so a re-run or a re-delivery of the same row is recognised),
    never a *person*: row 3 of one delivery and row 3 of the next are different people when the
    rows come in another order, and a hash changes with any edited cell. Quality and identity
    therefore treat such ids as absent where identity is concerned (docs/ingest.md)."""
    kf = key_field(source.kind)
    if source.record_id is None or kf is None or kf in source.mapping.values() or kf in source.constants:
        return None
    return kf


def derive_record_id(source: Source, raw: pd.DataFrame, rows: np.ndarray, delivery: str) -> pd.Series | None:
    if source.record_id is None:
        return None
    if source.record_id == "row_number":
        return (f"{delivery}:" + pd.Series(rows, index=raw.index).astype(str)).astype(object)
    h = pd.util.hash_pandas_object(raw.fillna("\x00"), index=False).to_numpy()
    return pd.Series(np.char.mod("%016x", h), index=raw.index).astype(object)


def _with_constant(s: pd.Series | None, const: Any, index: pd.Index) -> pd.Series:
    """A field's values with its configured constant: filling the column's gaps, or the whole
    field when no column feeds it."""
    v = None if const is None else str(const)
    if s is None:
        return pd.Series([v] * len(index), dtype=object, index=index)
    return s.where(s.notna(), v)


def map_frame(source: Source, raw: pd.DataFrame, rows: np.ndarray, delivery: str = "",
              attributes: str = "all", keep_bad: bool = False) -> Mapped:
    """Map, value-map and type one chunk. Raises a ``HeaderProblem`` when mapped columns are
    absent (MissingColumns) or named twice (RepeatedColumns).

    ``attributes``: "all" keeps every unmapped column, "declared" only the declared ones.
    ``keep_bad``: keep rejected rows in ``frame`` too (their bad values missing).
    """
    kind = source.kind
    fields = FIELDS[kind]
    raw = with_header_names(source, raw)
    miss = missing_columns(source, list(raw.columns))
    if miss:
        raise MissingColumns(miss, [source.mapping[c] for c in miss])
    repeats = repeated_columns(source, list(raw.columns))
    if repeats:
        raise RepeatedColumns(repeats, [source.mapping[c] for c in repeats])
    raw = raw.reset_index(drop=True)
    n = len(raw)
    by_field: dict[str, str] = {}
    for src_col, fld in source.mapping.items():
        by_field.setdefault(fld, src_col)
    out: dict[str, Any] = {}
    bad_masks: list[tuple[str, str, pd.Series, pd.Series]] = []
    before: dict[str, pd.Series] = {}
    for fld, typ in fields.items():
        col = by_field.get(fld)
        if col is not None:
            s = apply_value_map(raw[col], _value_map(source, fld, col), _own_map(source, fld, col))
        else:
            s = pd.Series([None] * n, dtype=object, index=raw.index)
        if fld in source.constants:
            s = _with_constant(s if col else None, source.constants[fld], raw.index)
        if fld in signals.FIELDS:
            before[fld] = s
        if fld in BAND_FIELDS:         # '51-200' employees: a head count
            s = band_counts(s)
        typed, bad = convert(typ, s, source.day_first)
        if fld in CLOSED_LISTS:
            typed = onto_closed_list(typed, fld)
        elif fld in CODE_FIELDS:
            typed = spelled_as_code(typed)
        elif fld == "currency":        # ISO 4217: 'usd' is USD
            typed = _iso_code(typed)
        out[fld] = typed
        if bad.any():
            bad_masks.append((fld, col or "(constant)", bad, s))
    _fill_from_full_name(out, source, raw, by_field)
    kf = key_field(kind)
    if kf and kf not in by_field:
        derived = derive_record_id(source, raw, rows, delivery)
        if derived is not None:
            out[kf] = derived
    frame = pd.DataFrame(out, index=raw.index)
    frame["row_number"] = rows
    # A mapped column declared as an attribute too feeds both (e.g. origin -> channel and origin).
    mapped_cols = set(source.mapping) - set(source.attributes)
    if attributes == "declared":
        attr_cols = [c for c in source.attributes if c in raw.columns and c not in mapped_cols]
    else:
        attr_cols = [c for c in raw.columns if c not in mapped_cols]
    attrs = pd.DataFrame({c: apply_value_map(raw[c], _value_map(source, None, c), _own_map(source, None, c))
                          for c in attr_cols},
                         index=raw.index)
    for fld, col in raw_values(source, raw).items():     # the delivered value of a closed-list field
        attrs[f"{fld}_raw"] = col
        attr_cols.append(f"{fld}_raw")
    rejects = _rejects(raw, rows, bad_masks, fields)
    if len(rejects) and not keep_bad:
        keep = ~frame["row_number"].isin(rejects["row_number"]).to_numpy()
        frame = frame[keep].reset_index(drop=True)
        attrs = attrs[keep].reset_index(drop=True)
    sig = signals.contact_signals(kind, before, np.asarray(rows))
    return Mapped(frame, attr_cols, rejects, attrs, signals=sig)


def _fill_from_full_name(out: dict[str, Any], source: Source, raw: pd.DataFrame, by_field: dict[str, str]) -> None:
    """Given and family names from a column mapped to ``full_name`` where the row has none of
    its own (``vocab.names.split_full_name``)."""
    for split, targets in SPLIT_FIELDS.items():
        col = by_field.get(split)
        if col is None:
            continue
        parts = split_full_name(apply_value_map(raw[col], _value_map(source, split, col), _own_map(source, split, col)))
        for fld in targets:
            own = out[fld]
            out[fld] = pd.Series(np.where(own.notna().to_numpy(), own.to_numpy(dtype=object),
                                          parts[fld].to_numpy(dtype=object)), index=own.index, dtype=object)


def onto_closed_list(s: pd.Series, fld: str) -> pd.Series:
    """Map values onto a closed list (``canonical.CLOSED_LISTS``): exact, then spelled
    canonically (case, spaces, hyphens), else the list's fallback (``other``). Missing stays
    missing. The delivered value is kept beside it (``raw_values``)."""
    allowed, fallback = CLOSED_LISTS[fld]
    if s.isna().all():
        return s
    norm = spelled_as_code(s)
    out = norm.where(norm.isin(allowed), fallback)
    return out.astype(object).where(s.notna(), None)


def raw_values(source: Source, raw: pd.DataFrame) -> dict[str, pd.Series]:
    """Delivered values (before value maps) of the closed-list fields a column is mapped to."""
    out: dict[str, pd.Series] = {}
    for col, fld in source.mapping.items():
        if fld in CLOSED_LISTS and fld not in out and col in raw.columns:
            out[fld] = raw[col].astype(object).where(raw[col].notna(), None)
    return out


def _rejects(raw: pd.DataFrame, rows: np.ndarray, masks: list[tuple[str, str, pd.Series, pd.Series]],
             fields: dict[str, str]) -> pd.DataFrame:
    if not masks:
        return pd.DataFrame({"row_number": pd.Series(dtype="int64"), "record": [], "reasons": []})
    any_bad = np.zeros(len(raw), dtype=bool)
    for _, _, m, _ in masks:
        any_bad |= m.to_numpy()
    idx = np.flatnonzero(any_bad)
    reasons: dict[int, list[str]] = {int(i): [] for i in idx}
    for fld, col, m, _ in masks:
        # The value itself stays in quarantine.record; reasons are shown in lists and logs.
        why = f"{fld} (column {col!r}): {WHY[fields[fld]]}"
        for i in np.flatnonzero(m.to_numpy()).tolist():
            reasons[i].append(why)
    return pd.DataFrame({
        "row_number": rows[idx].astype("int64"),
        "record": records_of(raw.iloc[idx]),
        "reasons": [reasons[int(i)] for i in idx],
    })


def records_of(raw: pd.DataFrame) -> list[dict[str, Any]]:
    """Original records as JSON-able dicts (missing as None)."""
    obj = raw.astype(object).where(raw.notna(), None)
    return obj.to_dict("records")


def refused_signals(source: Source, raw: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """Opt-out signals of a chunk whose delivery is refused for its header (``HeaderProblem``),
    read from whichever signal columns it has and the source's constants: a refusal never hides
    an opt-out. Each repeat of a flag column counts on its own, and each address of each repeat of
    the email column is blocked (a block is one per row, signal and address); the row waits in
    quarantine."""
    raw = with_header_names(source, raw).reset_index(drop=True)
    present = set(raw.columns)
    values: dict[str, list[pd.Series]] = {}
    for col, fld in source.mapping.items():
        if fld in signals.FIELDS and col in present:
            values.setdefault(fld, []).extend(apply_value_map(raw[c], _value_map(source, fld, col),
                                                                 _own_map(source, fld, col))
                                              for c in [col, *_repeats(source, col, present)])
    for fld in signals.FIELDS:          # a constant (a suppression list's opt_out: true) counts too
        if fld in source.constants:
            const = source.constants[fld]
            values[fld] = [_with_constant(v, const, raw.index) for v in values.get(fld, [None])]
    flags = [(f, s) for f, ss in values.items() if f != "email" for s in ss]
    parts = [signals.contact_signals(source.kind, {"email": e, f: s}, np.asarray(rows))
             for e in values.get("email", []) for f, s in flags]
    parts = [p for p in parts if len(p)]
    if not parts:
        return signals.empty()
    return (pd.concat(parts, ignore_index=True).drop_duplicates(["row_number", "signal", "email_hash"])
            .reset_index(drop=True))


def reject_all(raw: pd.DataFrame, rows: np.ndarray, reason: str) -> pd.DataFrame:
    return pd.DataFrame({"row_number": np.asarray(rows, dtype="int64"),
                         "record": records_of(raw.reset_index(drop=True)),
                         "reasons": [[reason] for _ in range(len(raw))]})


def attributes_json(frame: pd.DataFrame, columns: list[str]) -> pd.Series | None:
    """One JSON object per row of the unmapped columns, built vectorised by pandas."""
    if not columns or frame.empty:
        return None
    text = frame[columns].to_json(orient="records", lines=True, force_ascii=False)
    parts = text.rstrip("\n").split("\n")
    return pd.Series(np.asarray(parts, dtype=object), index=frame.index)
