"""Hot topics: which matters rise this week against the previous four.

Two views: category counts (exact, in SQL) and text clusters (TF-IDF on jieba tokens of the
ticket summary and the caller's transcript, MiniBatchKMeans) fitted on a sample of this week's
and the previous four weeks' tickets, with the tickets nearest each cluster's centre and its
most named places.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

import jieba
import numpy as np
from sklearn.cluster import MiniBatchKMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from asr.models import Transcript
from reports.period import Week
from tickets.models import Ticket

PREVIOUS_WEEKS = 4
SAMPLE = 2000  # tickets per side (this week, the previous four) fed to the clusterer
MAX_CLUSTERS = 10


@dataclass(frozen=True, slots=True)
class CategoryTrend:
    category: str
    this_week: int
    previous_avg: float  # tickets per week over the previous four
    rise: float  # this_week - previous_avg


@dataclass(frozen=True, slots=True)
class Example:
    number: str | None
    summary: str
    location: str | None


@dataclass(frozen=True, slots=True)
class Topic:
    terms: list[str]  # the cluster's heaviest words
    this_week: int  # tickets of the sample in the cluster (all of them when none was dropped)
    previous_avg: float
    rise: float
    examples: list[Example]  # nearest the centre
    locations: list[tuple[str, int]]  # most named places this week


@dataclass(frozen=True, slots=True)
class HotTopics:
    categories: list[CategoryTrend]
    topics: list[Topic]
    sampled: bool  # True when the clusters saw a sample, not every ticket
    # What the clusters saw (the report's footnote): tickets of each side, and how many of
    # them were clustered.
    this_total: int = 0
    this_clustered: int = 0
    previous_total: int = 0
    previous_clustered: int = 0


def _window(week: Week) -> tuple[object, object]:
    return week.start - timedelta(weeks=PREVIOUS_WEEKS), week.end


async def category_trends(session: AsyncSession, week: Week) -> list[CategoryTrend]:
    since, _ = _window(week)
    this = func.sum(case((Ticket.accepted_at >= week.start, 1), else_=0))
    query = (
        select(Ticket.category, this, func.count() - this)
        .where(
            Ticket.accepted_at >= since,
            Ticket.accepted_at < week.end,
            Ticket.merged_into_id.is_(None),
        )
        .group_by(Ticket.category)
    )
    trends = [
        CategoryTrend(str(cat), int(now), int(before) / PREVIOUS_WEEKS, 0.0)
        for cat, now, before in (await session.execute(query)).all()
    ]
    trends = [
        CategoryTrend(t.category, t.this_week, t.previous_avg, t.this_week - t.previous_avg)
        for t in trends
    ]
    return sorted(trends, key=lambda t: (-t.rise, -t.this_week, t.category))


@dataclass(frozen=True, slots=True)
class _Doc:
    current: bool
    text: str
    example: Example


async def _docs(session: AsyncSession, week: Week, current: bool) -> tuple[list[_Doc], int, int]:
    """Up to SAMPLE tickets of one side, every k-th id so the sample spans the side evenly."""
    since = week.start if current else week.start - timedelta(weeks=PREVIOUS_WEEKS)
    until = week.end if current else week.start
    where = (
        Ticket.accepted_at >= since,
        Ticket.accepted_at < until,
        Ticket.merged_into_id.is_(None),
    )
    total = int(await session.scalar(select(func.count()).where(*where)) or 0)
    step = max(1, math.ceil(total / SAMPLE))
    heard = (
        select(Transcript.text)
        .where(Transcript.call_id == Ticket.call_id, Transcript.speaker.in_(("caller", "mixed")))
        .limit(1)
        .scalar_subquery()
    )
    query = select(Ticket.number, Ticket.summary, Ticket.location, heard).where(*where)
    if step > 1:
        query = query.where(Ticket.id % step == 0)
    rows = (await session.execute(query.order_by(Ticket.id).limit(SAMPLE))).all()
    docs = [
        _Doc(current, f"{summary} {text or ''}", Example(number, summary, location))
        for number, summary, location, text in rows
    ]
    return docs, step, total


def _tokens(text: str) -> list[str]:
    # Single characters and numbers carry no topic (的, 了, house numbers).
    return [w for w in jieba.lcut(text) if len(w.strip()) > 1 and not w.isdigit()]


def cluster(docs: list[_Doc], this_scale: int, prev_scale: int) -> list[Topic]:
    """Fit the clusters on both sides; each cluster counts its members per side."""
    if len(docs) < 4:
        return []
    vectorizer = TfidfVectorizer(tokenizer=_tokens, token_pattern=None, lowercase=False)
    try:
        matrix = vectorizer.fit_transform([d.text for d in docs])
    except ValueError:  # no words at all
        return []
    k = max(2, min(MAX_CLUSTERS, round(math.sqrt(len(docs) / 4))))
    model = MiniBatchKMeans(n_clusters=k, random_state=0, n_init=3, batch_size=1024)
    labels = model.fit_predict(matrix)
    distances = model.transform(matrix)
    terms = vectorizer.get_feature_names_out()
    topics = []
    for label in range(k):
        members = np.flatnonzero(labels == label)
        now = [i for i in members if docs[i].current]
        before = len(members) - len(now)
        if not now:
            continue
        nearest = sorted(now, key=lambda i: distances[i, label])[:3]
        places = Counter(str(docs[i].example.location) for i in now if docs[i].example.location)
        this_week = len(now) * this_scale
        previous_avg = before * prev_scale / PREVIOUS_WEEKS
        top = np.argsort(model.cluster_centers_[label])[::-1][:5]
        topics.append(
            Topic(
                terms=[str(terms[j]) for j in top],
                this_week=this_week,
                previous_avg=previous_avg,
                rise=this_week - previous_avg,
                examples=[docs[i].example for i in nearest],
                locations=places.most_common(3),
            )
        )
    return sorted(topics, key=lambda t: (-t.rise, -t.this_week))


async def hot_topics(session: AsyncSession, week: Week) -> HotTopics:
    categories = await category_trends(session, week)
    current, this_step, this_total = await _docs(session, week, current=True)
    previous, prev_step, prev_total = await _docs(session, week, current=False)
    topics = cluster(current + previous, this_step, prev_step)
    return HotTopics(
        categories=categories,
        topics=topics,
        sampled=max(this_step, prev_step) > 1,
        this_total=this_total,
        this_clustered=len(current),
        previous_total=prev_total,
        previous_clustered=len(previous),
    )
