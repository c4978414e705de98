"""Which source gives which symbols: patterns per source, and the row check that keeps a
source to its own symbols (a symbol no source is configured for is an unknown symbol)."""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

from core.prices import PriceRow
from core.values import ParseReport, RowError


def covers(patterns: Iterable[str], symbol: str) -> bool:
    """`LME-*` covers LME-AL; patterns are shell-style, case-sensitive."""
    return any(fnmatchcase(symbol, pattern) for pattern in patterns)


def keep_known_symbols(report: ParseReport[PriceRow], patterns: Iterable[str]) -> ParseReport[PriceRow]:
    """Rows whose symbol the source is not configured for become bad rows."""
    allowed = list(patterns)
    kept = []
    for line, row in report.rows:
        if covers(allowed, row.symbol):
            kept.append((line, row))
        else:
            report.errors.append(
                RowError(
                    report.file, line, f"symbol: unknown symbol {row.symbol} (this source gives {', '.join(allowed)})"
                )
            )
    report.rows = kept
    report.errors.sort(key=lambda e: e.line)
    return report
