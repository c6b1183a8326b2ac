"""Answers to feedback requests: one row per (store, order), kept in the local store.

An answer arrives as a click on one of the 0-10 links of a feedback email (``winback serve``,
:mod:`winback.web.feedback`): the first click inserts the row, every later one (another score, the
same link opened again) updates that row's score and counts the click, so an order never has two
answers and the last choice wins. A comment comes later from the thank-you page's form.

:func:`summary` gives the figures ``winback status`` and the report show: how many answered, the
mean score and the Net Promoter Score (promoters 9-10 minus detractors 0-6, in percent of answers).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, update

from winback.sync import tables
from winback.sync.store import LocalStore
from winback.sync.writes import dialect_insert

_feedback = tables.feedback
COMMENT_LIMIT = 2000
"""Characters of a comment kept; the rest is cut (a form field is no place for an essay)."""


def record_score(store: LocalStore, store_key: str, order_id: str, score: int, now: datetime, *,
                 source: str = "serve") -> None:
    """Keep ``score`` as the order's answer: insert, or update the one already there."""
    if not 0 <= score <= 10:
        raise ValueError(f"a feedback score is 0 to 10, not {score}")
    orders = tables.orders
    with store.writing() as conn:
        email = conn.execute(select(orders.c.lower_email).where(
            orders.c.store_key == store_key, orders.c.id == order_id)).scalar()
        stmt = dialect_insert(conn, _feedback).values(
            store_key=store_key, order_id=order_id, lower_email=email, score=score, source=source, clicks=1,
            first_answered_at=now, answered_at=now,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["store_key", "order_id"],
            set_={"score": stmt.excluded.score, "answered_at": stmt.excluded.answered_at,
                  "clicks": _feedback.c.clicks + 1},
        )
        conn.execute(stmt)


def record_comment(store: LocalStore, store_key: str, order_id: str, comment: str, now: datetime) -> bool:
    """Attach ``comment`` to the order's answer; False when the order has no answer yet."""
    text = comment.strip()[:COMMENT_LIMIT] or None
    with store.writing() as conn:
        result = conn.execute(update(_feedback).where(
            _feedback.c.store_key == store_key, _feedback.c.order_id == order_id,
        ).values(comment=text, answered_at=now))
        return bool(result.rowcount)


def answer_of(store: LocalStore, store_key: str, order_id: str) -> dict[str, Any] | None:
    with store.reading() as conn:
        row = conn.execute(select(_feedback).where(
            _feedback.c.store_key == store_key, _feedback.c.order_id == order_id)).mappings().first()
    return None if row is None else dict(row)


@dataclass(frozen=True, slots=True)
class FeedbackSummary:
    answers: int
    average: float | None
    promoters: int
    passives: int
    detractors: int

    @property
    def nps(self) -> float | None:
        """Net Promoter Score, -100 to 100: % promoters (9-10) minus % detractors (0-6)."""
        if not self.answers:
            return None
        return 100.0 * (self.promoters - self.detractors) / self.answers


def summary(store: LocalStore, store_key: str, *, since: datetime | None = None,
            until: datetime | None = None) -> FeedbackSummary:
    """The answers of ``store_key`` (last given in ``[since, until)`` when set), in one query."""
    score = _feedback.c.score
    query = select(
        func.count(), func.avg(score),
        func.coalesce(func.sum(case((score >= 9, 1), else_=0)), 0),
        func.coalesce(func.sum(case((score.between(7, 8), 1), else_=0)), 0),
        func.coalesce(func.sum(case((score <= 6, 1), else_=0)), 0),
    ).where(_feedback.c.store_key == store_key)
    if since is not None:
        query = query.where(_feedback.c.answered_at >= since)
    if until is not None:
        query = query.where(_feedback.c.answered_at < until)
    with store.reading() as conn:
        count, average, promoters, passives, detractors = conn.execute(query).one()
    return FeedbackSummary(
        answers=int(count), average=None if average is None else float(average),
        promoters=int(promoters), passives=int(passives), detractors=int(detractors),
    )


def status_entry(store: LocalStore, store_key: str) -> dict[str, Any] | None:
    """What ``winback status`` shows (JSON-ready); ``None`` while no answer arrived."""
    found = summary(store, store_key)
    if not found.answers:
        return None
    return {
        "answers": found.answers,
        "average": None if found.average is None else round(found.average, 2),
        "nps": None if found.nps is None else round(found.nps, 1),
        "promoters": found.promoters,
        "passives": found.passives,
        "detractors": found.detractors,
    }


def status_line(entry: dict[str, Any] | None) -> str | None:
    """``feedback: 12 answers, average 8.1/10, NPS +33 (6 promoters, 4 passives, 2 detractors)``."""
    if not entry:
        return None
    return (f"feedback: {entry['answers']} answer{'s' if entry['answers'] != 1 else ''}, "
            f"average {entry['average']:.1f}/10, NPS {entry['nps']:+.0f} ({entry['promoters']} promoters, "
            f"{entry['passives']} passives, {entry['detractors']} detractors)")
