"""The other leg of each leg under test: valuation gives both legs of a designation one
basis, so a chunk valuing instruments needs their items, and the other way round."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy.orm import Session

from core.hedging.fx import Partner
from core.values import Contract, ObjectType
from db.contracts import to_contract
from db.hedging.dossiers import to_item
from db.hedging.effectiveness import designations_under_test, legs_of


def partners_of(
    session: Session, legs: Sequence[Contract], oid: ObjectType, as_of: date
) -> dict[tuple[ObjectType, int], Partner]:
    """For each of `legs` (hedge contracts, or hedged items as their hypothetical
    derivatives) tested at `as_of`, the other leg of its designation."""
    wanted = {c.id for c in legs}
    found: dict[tuple[ObjectType, int], Partner] = {}
    if not wanted:
        return found
    chunk = {"contract_ids": wanted} if oid is ObjectType.HEDGE_CONTRACT else {"item_ids": wanted}
    for d, c, i in legs_of(session, designations_under_test(session, as_of, **chunk)):
        if oid is ObjectType.HEDGE_CONTRACT and c.id in wanted:
            item = to_item(i).hypothetical(d.hedged_item_rate, d.designation_date)
            found[(oid, c.id)] = Partner(d.relationship_id, ObjectType.HEDGED_ITEM, item)
        elif oid is ObjectType.HEDGED_ITEM and i.id in wanted:
            found[(oid, i.id)] = Partner(d.relationship_id, ObjectType.HEDGE_CONTRACT, to_contract(c))
    return found
