"""Which source gives which symbols, per which unit: patterns per source, and the row check
that keeps a source to its own symbols (a symbol no source is configured for is an unknown
symbol) and to their configured unit.

A pattern is shell-style and case-sensitive (`LME-*`), and may name the unit its symbols are
priced per: `LME-*=mt`. A row covered only by patterns with a unit, in another unit, is
refused: a price's identity is (symbol, date, source), without the unit, so a price stored
per another unit (`t`, or a look-alike) would take the place of the real one and have it
refused as a conflict (issue 21, point 4). A pattern without a unit accepts any unit."""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

from core.prices import PriceRow
from core.values import ParseReport, RowError


def split_pattern(pattern: str) -> tuple[str, str | None]:
    """`LME-*=mt` -> (`LME-*`, `mt`); `LME-*` -> (`LME-*`, None)."""
    symbols, sep, unit = pattern.rpartition("=")
    return (symbols, unit) if sep else (pattern, None)


def covers(patterns: Iterable[str], symbol: str) -> bool:
    """`LME-*` (or `LME-*=mt`) covers LME-AL."""
    return any(fnmatchcase(symbol, split_pattern(p)[0]) for p in patterns)


def configured_units(patterns: Iterable[str], symbol: str) -> set[str] | None:
    """The units the patterns covering `symbol` allow; None when one of them allows any."""
    units: set[str] = set()
    for pattern in patterns:
        symbols, unit = split_pattern(pattern)
        if fnmatchcase(symbol, symbols):
            if unit is None:
                return None
            units.add(unit)
    return units


def keep_known_symbols(report: ParseReport[PriceRow], patterns: Iterable[str]) -> ParseReport[PriceRow]:
    """Rows whose symbol the source is not configured for, or in a unit other than the one
    configured for it, become bad rows (one reason each); the other rows are kept."""
    allowed = list(patterns)
    kept = []
    # The patterns' answer per (symbol, unit): a large file repeats a few of them many times.
    problems: dict[tuple[str, str], str | None] = {}
    for line, row in report.rows:
        pair = (row.symbol, row.unit)
        if pair not in problems:
            problems[pair] = _problem(allowed, row)
        problem = problems[pair]
        if problem is None:
            kept.append((line, row))
        else:
            report.errors.append(RowError(report.file, line, problem))
    report.rows = kept
    report.errors.sort(key=lambda e: e.line)
    return report


def _problem(allowed: list[str], row: PriceRow) -> str | None:
    if not covers(allowed, row.symbol):
        return f"symbol: unknown symbol {row.symbol} (this source gives {', '.join(allowed)})"
    units = configured_units(allowed, row.symbol)
    if units is not None and row.unit not in units:
        return f"unit: {row.unit} is not the configured unit of {row.symbol} ({', '.join(sorted(units))})"
    return None
