"""Hedge accounting (seed 004, IFRS 9 policy tests): FX forward valuation, hedged items as
hypothetical derivatives, designation dossiers and retrospective effectiveness tests.

Pure like the rest of core: values in, values out; `as_of` is always an argument.
"""
