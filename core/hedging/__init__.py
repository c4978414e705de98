"""Hedge accounting (seed 004, IFRS 9 policy tests): FX forward valuation, hedged items as
hypothetical derivatives, designation dossiers and retrospective effectiveness tests.

Postings (issue 18), pure like the rest: `accounts` (chart of accounts, DEFAULT_CHART),
`periods` (calendar-month periods, the first open one, the reopen rule), `journal`
(JournalEntry, JournalLine, PostedState, Source), `postings` (revaluation: cash flow, fair
value, net investment, after de-designation), `releases` (the reserve reclassified at the
exposure date or when no longer expected), `corrections` (reversal + replacement),
`reserve` (the IFRS 7 24E roll-forward). Keys: core.keys.fx_posting_key, fx_reversal_key.

Pure like the rest of core: values in, values out; `as_of` is always an argument.
"""
