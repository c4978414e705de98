"""The naive baseline's Celery app: one task per contract, each loading its contract and
price as ORM objects and writing its snapshot as one ORM object in its own transaction.
No chunks, no COPY, no bulk idempotency: what a first version would do. Only
benchmarks/naive.py starts workers of it (`celery -A naive_app worker -Q naive`)."""

from __future__ import annotations

import os
from datetime import date

from celery import Celery
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import keys
from core.canonical import canonical_form
from core.mtm import commodity_mtm
from core.mtm_results import MtmSnapshot as SnapshotValue
from core.values import ObjectType, Side
from db.engine import engine_for
from db.models import HedgeContract, MtmSnapshot, SettlementPrice
from tasks.ports import utc_now

URL = os.environ.get("HEDGEOPS_DATABASE_URL", "")
app = Celery("naive", broker=os.environ.get("HEDGEOPS_BROKER_URL"))
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    task_default_queue="naive",
)


@app.task(name="bench.naive.value_contract")
def value_contract(contract_id: int, as_of: str, price_date: str) -> None:
    """Value one contract and store its snapshot (per-row ORM reads and write)."""
    with Session(engine_for(URL)) as session:
        contract = session.get(HedgeContract, contract_id)
        assert contract is not None
        price = session.scalars(
            select(SettlementPrice).where(
                SettlementPrice.symbol == contract.underlying,
                SettlementPrice.price_date == date.fromisoformat(price_date),
            )
        ).first()
        assert price is not None
        day = date.fromisoformat(as_of)
        value = SnapshotValue(
            key=keys.mtm_snapshot_key(ObjectType.HEDGE_CONTRACT, contract.id, day),
            contract_id=contract.id,
            as_of=day,
            price_date=price.price_date,
            price_id=price.id,
            mtm_value=commodity_mtm(Side(contract.side).sign, contract.quantity, price.price, contract.entry_price),
            price_d1=price.price,
            entry_price=contract.entry_price,
            quantity=contract.quantity,
            currency=contract.currency,
        )
        payload, _text, sha = canonical_form(value.payload)
        session.add(
            MtmSnapshot(
                idempotency_key=value.key,
                object_type=ObjectType.HEDGE_CONTRACT.value,
                object_id=contract.id,
                as_of_date=day,
                price_date=value.price_date,
                price_id=value.price_id,
                mtm_value=value.mtm_value,
                price_d1=value.price_d1,
                entry_price=value.entry_price,
                quantity_mt=value.quantity,
                currency=value.currency,
                payload=payload,
                payload_sha256=sha,
                created_at=utc_now(),
            )
        )
        session.commit()
