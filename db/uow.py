"""The unit of work: a session that rolls back unless told to commit, and follow-ups
(child tasks, lock releases) that run only after a successful commit."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy.orm import Session, sessionmaker


class SqlAlchemyUnitOfWork:
    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory
        self._after_commit: list[Callable[[], object]] = []
        self._committed = False

    def __enter__(self) -> Self:
        self.session = self._factory()
        self._after_commit = []
        self._committed = False
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc is not None or not self._committed:
                self.session.rollback()
        finally:
            # close() ends any transaction opened after the commit, without expiring
            # what was read: committed objects stay readable after the block.
            self.session.close()
        if exc is None and self._committed:
            hooks, self._after_commit = self._after_commit, []
            for hook in hooks:
                hook()

    def commit(self) -> None:
        self.session.commit()
        self._committed = True

    def rollback(self) -> None:
        self.session.rollback()

    def after_commit(self, hook: Callable[[], object]) -> None:
        """Run `hook` once the work is committed and the session closed (never on failure)."""
        self._after_commit.append(hook)


UnitOfWorkFactory = Callable[[], SqlAlchemyUnitOfWork]
