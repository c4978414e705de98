"""`hedgeops verify --as-of D` for hedge accounting entries: D's entries recomputed from the
stored snapshots (and the state the entries before D left) and compared with the stored
ones; each stored entry's payload checked against its hash."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.canonical import normalise_decimal, payload_sha256
from core.hedging.corrections import same_content
from core.hedging.journal import JournalEntry
from core.verify import Finding
from db.hedging.designation_ends import designations_posted
from db.hedging.journal_models import JournalEntry as EntryRow
from tasks.hedging.posting_work import Book, compute_day


def verify_entries(session: Session, book: Book, day: date) -> tuple[int, list[Finding]]:
    """(entries of D checked, findings): a tampered payload, an entry that would now come out
    otherwise (its stored and recomputed figures), one that would not be posted now, or one
    computed but never posted. The relationships are those the postings job plans
    (db.hedging.designation_ends), de-designated ones included."""
    findings = _tampered(session, day)
    computed = compute_day(session, book, designations_posted(session, day), day)
    checked = 0
    for rid, stored in computed.stored.items():
        for (kind, as_of), found in sorted(stored.items()):
            if as_of != day:
                continue
            checked += 1
            mine = next((e for e in computed.entries.get(rid, []) if e.kind.value == kind), None)
            if mine is None:
                why = computed.blocked.get(rid, "no such entry is computed now")
                findings.append(Finding(found.entry.key, "not_posted_now", why))
            elif not same_content(found.entry, mine):
                findings.append(Finding(found.entry.key, "recomputed_differs", _difference(found.entry, mine)))
    for rid, entries in computed.entries.items():
        for entry in entries:
            if (entry.kind.value, entry.as_of) not in computed.stored.get(rid, {}):
                findings.append(Finding(entry.key, "not_posted", "computed from the stored snapshots, never posted"))
    return checked, findings


def _tampered(session: Session, day: date) -> list[Finding]:
    stmt = select(EntryRow.idempotency_key, EntryRow.payload, EntryRow.payload_sha256).where(EntryRow.as_of_date == day)
    return [
        Finding(key, "payload_tampered", f"stored payload hashes to {payload_sha256(payload)}, not {sha}")
        for key, payload, sha in session.execute(stmt)
        if payload_sha256(payload) != sha
    ]


def _difference(stored: JournalEntry, recomputed: JournalEntry) -> str:
    def amounts(entry: JournalEntry) -> str:
        return ", ".join(f"{line.account} {normalise_decimal(line.amount)}" for line in entry.lines)

    def sources(entry: JournalEntry) -> set[str]:
        return {s.ref for line in entry.lines for s in line.sources}

    if amounts(stored) != amounts(recomputed):
        return f"stored [{amounts(stored)}], recomputed [{amounts(recomputed)}]"
    if sources(stored) != sources(recomputed):
        return (
            f"same amounts; sources stored only {sorted(sources(stored) - sources(recomputed))}, "
            f"recomputed only {sorted(sources(recomputed) - sources(stored))}"
        )
    return "same lines; the state carried forward differs"
