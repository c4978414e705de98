"""The FX forward lifecycle of seed 004 §3.1: every (from, to, via) of the seed's table
against core.hedging.lifecycle, and a Hypothesis walk that never leaves it."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.hedging.lifecycle import (
    AMENDED,
    CANCELLED,
    EFFECTIVENESS_TESTED,
    HEDGE_DE_DESIGNATED,
    HEDGE_DESIGNATED,
    SETTLED,
    Via,
    amendable,
    entry_problem,
    event_for,
    prospective_passes,
    settlement_problem,
    transition_problem,
)
from core.values import ContractStatus, Instrument

S = ContractStatus
FX = Instrument.FX_FORWARD

#: The seed's table (§3.1), written out here rather than read from the module under test,
#: with the path each step takes (issue 22) and the seed §4.4 event it is audited with.
#: One addition: de_designated -> settled (a de-designated forward still matures).
SEED = {
    (S.DRAFT, S.DESIGNATED, Via.DESIGNATION): HEDGE_DESIGNATED,
    (S.DRAFT, S.CANCELLED, Via.CONTRACTS_FILE): CANCELLED,
    (S.DESIGNATED, S.ACTIVE, Via.PROSPECTIVE_TEST): EFFECTIVENESS_TESTED,
    (S.DESIGNATED, S.REJECTED, Via.PROSPECTIVE_TEST): EFFECTIVENESS_TESTED,
    (S.ACTIVE, S.SETTLED, Via.SETTLEMENT): SETTLED,
    (S.ACTIVE, S.DE_DESIGNATED, Via.CONTRACTS_FILE): HEDGE_DE_DESIGNATED,
    (S.DE_DESIGNATED, S.ACTIVE, Via.DESIGNATION): HEDGE_DESIGNATED,
    (S.DE_DESIGNATED, S.SETTLED, Via.SETTLEMENT): SETTLED,
    (S.REJECTED, S.DRAFT, Via.CONTRACTS_FILE): AMENDED,
}
EVERY_MOVE = [(o, n, v) for o, n, v in itertools.product(S, S, Via) if o is not n]


@pytest.mark.parametrize(("old", "new", "via"), EVERY_MOVE, ids=lambda x: str(x))
def test_every_move_of_the_table_and_no_other(old: ContractStatus, new: ContractStatus, via: Via) -> None:
    problem = transition_problem(FX, old, new, via)
    if (old, new, via) in SEED:
        assert problem is None
        assert event_for(FX, new, via) == SEED[(old, new, via)]
    else:
        assert problem is not None
        assert problem.startswith(f"status {old} -> {new} ")
        allowed = [f"{n} ({v})" for (o, n, v) in SEED if o is old]
        assert problem.endswith(f"(from {old}: {', '.join(sorted(allowed)) or 'none (terminal)'})")


@pytest.mark.parametrize(
    ("old", "new", "via", "says"),
    [
        (S.DRAFT, S.DESIGNATED, Via.CONTRACTS_FILE, "is made by designation, not by contracts_file"),
        (S.ACTIVE, S.SETTLED, Via.CONTRACTS_FILE, "is made by settlement, not by contracts_file"),
        (S.DESIGNATED, S.REJECTED, Via.CONTRACTS_FILE, "is made by prospective_test, not by contracts_file"),
        (S.DRAFT, S.SETTLED, Via.SETTLEMENT, "is not an fx_forward lifecycle step"),
        (S.SETTLED, S.ACTIVE, Via.DESIGNATION, "(from settled: none (terminal))"),
    ],
)
def test_a_refusal_names_both_states_and_the_allowed_steps(
    old: ContractStatus, new: ContractStatus, via: Via, says: str
) -> None:
    assert says in (transition_problem(FX, old, new, via) or "")


def test_staying_is_no_move_and_commodities_keep_their_three_statuses() -> None:
    assert all(transition_problem(FX, s, s, v) is None for s in S for v in Via)
    commodity = Instrument.COMMODITY_FORWARD
    assert transition_problem(commodity, S.SETTLED, S.ACTIVE, Via.CONTRACTS_FILE) is None
    assert transition_problem(commodity, S.ACTIVE, S.SETTLED, Via.SETTLEMENT) is None
    assert transition_problem(commodity, S.ACTIVE, S.SETTLED, Via.DESIGNATION) is not None


def test_the_settlement_check() -> None:
    assert settlement_problem(FX, S.ACTIVE) is None and settlement_problem(FX, S.DE_DESIGNATED) is None
    assert settlement_problem(FX, S.SETTLED) == "status: already settled"
    assert "status draft -> settled is not an fx_forward lifecycle step" in (settlement_problem(FX, S.DRAFT) or "")


@pytest.mark.parametrize("status", list(S))
def test_a_new_fx_forward_is_never_loaded_in_a_status_only_a_path_reaches(status: ContractStatus) -> None:
    refused = entry_problem(FX, status) is not None
    assert refused is (status in {S.DESIGNATED, S.REJECTED, S.SETTLED})


def test_only_a_draft_fx_forward_changes_its_terms() -> None:
    assert "quantity" in amendable(FX, S.DRAFT) and "contract_ref" not in amendable(FX, S.DRAFT)
    assert amendable(FX, S.ACTIVE) == frozenset({"status"})
    assert amendable(Instrument.COMMODITY_FORWARD, S.DRAFT) == frozenset({"status"})


def _test(outcome: str, sides: bool) -> dict[str, object]:
    return {"outcome": outcome, "sides": {"match": sides}}


@pytest.mark.parametrize(
    ("method", "test", "passes"),
    [
        ("critical_terms", _test("pass", True), True),
        ("critical_terms", _test("fail", True), False),  # a maturity off: rejected
        ("dollar_offset", _test("fail", True), True),  # another maturity: the offset test judges it
        ("regression", _test("fail", True), True),  # a cross-hedge
        ("regression", _test("fail", False), False),  # the same side as the item: no offset at all
    ],
)
def test_the_prospective_test_decides_by_the_method(method: str, test: dict[str, object], passes: bool) -> None:
    assert prospective_passes(method, test) is passes


#: What the seed lets a forward reach from draft (all of them but none outside the table).
REACHABLE = {S.DRAFT, S.DESIGNATED, S.ACTIVE, S.REJECTED, S.DE_DESIGNATED, S.SETTLED, S.CANCELLED}
MOVES = st.tuples(st.sampled_from(list(S)), st.sampled_from(list(Via)))


@settings(max_examples=300, deadline=None)
@given(st.lists(MOVES, max_size=40))
def test_a_random_walk_never_leaves_the_seed(attempts: list[tuple[ContractStatus, Via]]) -> None:
    status, path = S.DRAFT, [S.DRAFT]
    for new, via in attempts:
        if transition_problem(FX, status, new, via) is None and new is not status:
            assert (status, new, via) in SEED
            status = new
            path.append(status)
    assert set(path) <= REACHABLE
    assert path[-1] not in {S.SETTLED, S.CANCELLED} or all(
        transition_problem(FX, path[-1], n, v) is not None for n in S for v in Via if n is not path[-1]
    )
    # designated and settled only through their paths, rejected only after a prospective test
    for before, after in itertools.pairwise(path):
        if after is S.DESIGNATED:
            assert before is S.DRAFT
        if after is S.REJECTED:
            assert before is S.DESIGNATED
