"""A generated year for the weekly report's bench, written by PostgreSQL itself.

Every row comes from `INSERT ... SELECT` over `generate_series` (or over the rows already
loaded): no Python loop touches a row. Randomness is `hashint8extended(id, stream)`, so a
load is the same on every run. Calls are spread over 52 ISO weeks ending at `END` with
12345's day-and-hour shape (a morning and an afternoon peak, quiet nights, lighter
weekends), in id order as a call centre appends them (so the table's physical order follows
time, as in production); 30 % of the calls (every id ending in 0, 3 or 6) were answered and became a
ticket, 12 % were abandoned (most of them called back), 4 % hung up in the IVR, 4 % are
callback legs. Tickets inherit the call's caller, city and time. In the report's week
城乡建设·供水 rises (a burst pipe in one street) and 城乡建设·供暖 climbs with the season, so the
hot topics have something to find.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import yaml

from asr.draft.rules import DATA_DIR

WEEKS = 52
END = datetime(2026, 11, 29, 16, tzinfo=UTC)  # Monday 2026-11-30 00:00 in China
START = END - timedelta(weeks=WEEKS)
REPORT_WEEK = "2026-W48"  # the last week of the year generated
CHINA_S = 8 * 3600
QUANTILES = 4096

# Relative call volume by local hour, and by weekday (Monday first).
HOURS = [0.3, 0.2, 0.15, 0.1, 0.1, 0.15, 0.4, 1.2, 3.5, 6, 6.5, 6]
HOURS += [4.5, 4, 5.5, 6, 6, 5.5, 4, 3, 2.5, 2, 1.2, 0.6]
WEEKDAYS = [1.15, 1.0, 1.0, 1.0, 1.0, 0.75, 0.7]
CITIES = ["xa", "xy", "bj", "wn", "hz", "yl", "ak", "sl", "ya", "tc"]
CITY_WEIGHTS = [30, 12, 10, 10, 8, 8, 6, 6, 5, 5]
DISTRICTS = ["新城区", "碑林区", "莲湖区", "雁塔区", "灞桥区", "未央区", "阎良区", "临潼区"]
DISTRICTS += ["长安区", "高陵区", "鄠邑区", "蓝田县", "周至县"]
STREETS = ["东关", "西关", "南街", "北街", "新华", "解放", "和平", "建设"]
SPIKE_CATEGORY = "城乡建设·供水"
SPIKE_PLACE = "雁塔区小寨街道"
SEASON_CATEGORY = "城乡建设·供暖"
REQUEST_TYPES = ["咨询", "求助", "投诉", "建议", "举报"]
REQUEST_WEIGHTS = [30, 30, 28, 7, 5]
SUMMARIES = [
    "反映{k}问题，请尽快处理",
    "{k}，多次反映未解决",
    "咨询{k}相关政策",
    "投诉{k}，影响正常生活",
    "{k}情况严重，要求相关部门处理",
    "询问{k}什么时候能解决",
]
SAYINGS = [
    "喂你好，我这边{k}已经好几天了，你们能不能派人来看看",
    "你好，我想问一下{k}的事，找了好几次都没人管",
    "我们小区{k}，老人孩子都受不了，麻烦赶紧处理一下",
    "你好，{k}这个情况到底归哪个部门管，我着急啊",
]
EMOTIONS = ["平稳", "平稳", "平稳", "焦躁", "生气", "无助", "满意"]


def _quantiles() -> list[float]:
    """Seconds into the local week at evenly spaced points of the call-volume distribution."""
    weights = [d * h for d in WEEKDAYS for h in HOURS]
    total = sum(weights)
    cumulative, points, hour = 0.0, [], 0
    for i in range(QUANTILES + 1):
        target = total * i / QUANTILES
        while hour < len(weights) - 1 and cumulative + weights[hour] < target:
            cumulative += weights[hour]
            hour += 1
        inside = (target - cumulative) / weights[hour]
        points.append(round(3600 * (hour + min(1.0, inside)), 1))
    return points


def _cumulative(weights: list[float]) -> list[float]:
    total, running, out = sum(weights), 0.0, []
    for w in weights[:-1]:
        running += w
        out.append(round(running / total, 6))
    return out


def _array(values: list[float] | list[str]) -> str:
    if values and isinstance(values[0], str):
        return "(ARRAY[" + ",".join(f"'{v}'" for v in values) + "]::text[])"
    return "(ARRAY[" + ",".join(str(v) for v in values) + "]::float8[])"


def taxonomy() -> dict[str, list[str]]:
    data = yaml.safe_load((DATA_DIR / "taxonomy.yaml").read_text(encoding="utf-8"))
    return {str(k): [str(w) for w in v] for k, v in data["categories"].items()}


def category_weights(names: list[str], report_week: bool) -> list[float]:
    """A long tail (the first named categories are the common ones); the week's rises."""
    weights = [1.0 / math.sqrt(i + 1) for i in range(len(names))]
    if report_week:
        weights = [
            w * (2.5 if n == SPIKE_CATEGORY else 1.8 if n == SEASON_CATEGORY else 1.0)
            for n, w in zip(names, weights, strict=True)
        ]
    return weights


def _phrases(keywords: dict[str, list[str]], templates: list[str]) -> list[str]:
    """len(templates) phrases per category, flat: category i's are [i*P, (i+1)*P)."""
    return [
        t.format(k=words[j % len(words)])
        for words in keywords.values()
        for j, t in enumerate(templates)
    ]


def categories() -> tuple[list[str], dict[str, list[str]]]:
    """The taxonomy's categories (the fallback last) and the words each is known by."""
    words = taxonomy()
    words["其他·综合"] = ["其他问题", "意见建议"]
    return list(words), words


FUNCTIONS = """
CREATE OR REPLACE FUNCTION bench_u(id bigint, stream bigint) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (hashint8extended(id, stream) & 4503599627370495)::float8 / 4503599627370496.0 $$
"""


def _city_index(id_sql: str) -> str:
    return f"1 + width_bucket(bench_u({id_sql}, 4), {_array(_cumulative(CITY_WEIGHTS))})"


def calls_sql(count: int) -> str:
    """`count` call records over the year, in id order (ids 1..count)."""
    q = _array(_quantiles())
    kind = (
        "CASE WHEN id % 10 IN (0, 3, 6) THEN 'ticket' WHEN u1 < 0.171 THEN 'abandoned'"
        " WHEN u1 < 0.228 THEN 'ivr' WHEN u1 < 0.285 THEN 'callback' ELSE 'answered' END"
    )
    return f"""
INSERT INTO call_records (id, call_id, city, caller_num, skill, ivr_path, entered_at,
  ivr_choice_at, queued_at, answered_at, ended_at, seat_id, answer_city, overflowed, outcome,
  end_cause)
SELECT id, 'bench-' || lpad(id::text, 9, '0'), city, caller,
  CASE WHEN kind = 'callback' THEN 'callback' ELSE skill END,
  CASE WHEN kind = 'callback' THEN '' ELSE ivr_path END, entered,
  CASE WHEN kind = 'callback' THEN NULL ELSE entered + ivr_s * interval '1 second' END,
  queued, answered,
  CASE kind WHEN 'abandoned' THEN queued + wait_s * interval '1 second'
    WHEN 'ivr' THEN entered + ivr_s * interval '1 second'
    ELSE answered + talk_s * interval '1 second' END,
  CASE WHEN answered IS NOT NULL THEN answer_city || '-' || lpad(seat::text, 3, '0') END,
  CASE WHEN answered IS NOT NULL THEN answer_city END,
  answered IS NOT NULL AND answer_city <> city,
  CASE kind WHEN 'abandoned' THEN 'abandoned' WHEN 'ivr' THEN 'ivr_hangup'
    WHEN 'callback' THEN 'callback' ELSE 'completed' END,
  16
FROM (
  SELECT *, CASE WHEN kind = 'ivr' THEN NULL
      ELSE entered + ivr_s * interval '1 second' END AS queued,
    CASE WHEN kind IN ('ticket', 'answered', 'callback')
      THEN entered + (ivr_s + wait_s) * interval '1 second' END AS answered
  FROM (
    SELECT id, kind,
      timestamptz '{START.isoformat()}' + (((id - 1) * {WEEKS} / {count}) * 604800
        + {q}[1 + k] + frac * ({q}[2 + k] - {q}[1 + k])) * interval '1 second' AS entered,
      {_array(CITIES)}[ci] AS city,
      CASE WHEN u11 < 0.03 THEN {_array(CITIES)}[1 + ci % {len(CITIES)}]
        ELSE {_array(CITIES)}[ci] END AS answer_city,
      CASE WHEN u5 < 0.005 THEN '1390000' || lpad(floor(u6 * 100)::int::text, 4, '0')
        WHEN u5 < 0.025 THEN '1391' || lpad(floor(u6 * 2000)::int::text, 7, '0')
        ELSE '13' || lpad(floor(u6 * 80000000)::bigint::text, 9, '0') END AS caller,
      CASE WHEN u7 < 0.08 THEN 'enterprise' WHEN u7 < 0.15 THEN 'elderly'
        ELSE 'general' END AS skill,
      CASE WHEN u7 < 0.08 THEN '2' WHEN u7 < 0.15 THEN '3' ELSE '1' END AS ivr_path,
      CASE WHEN kind = 'callback' THEN 0 ELSE 8 + 30 * u8 END AS ivr_s,
      CASE WHEN kind = 'abandoned' THEN 5 - ln(1 - u9) * 45
        ELSE -ln(1 - u9) * 11 END AS wait_s,
      60 - ln(1 - u10) * 240 AS talk_s,
      floor(u12 * 150)::int AS seat
    FROM (
      SELECT id, {kind} AS kind, floor(x)::int AS k,
        x - floor(x) AS frac, {_city_index("id")} AS ci, bench_u(id, 5) AS u5,
        bench_u(id, 6) AS u6, bench_u(id, 7) AS u7, bench_u(id, 8) AS u8,
        bench_u(id, 9) AS u9, bench_u(id, 10) AS u10, bench_u(id, 11) AS u11,
        bench_u(id, 12) AS u12
      FROM (SELECT id, bench_u(id, 1) AS u1,
          ((id - 1) * {WEEKS} % {count})::float8 * {QUANTILES} / {count} AS x
        FROM generate_series(1, {count}) AS g(id)
        OFFSET 0) g1
      OFFSET 0
    ) g
    OFFSET 0
  ) s
  OFFSET 0
) t
"""


def tickets_sql(unit_ids: list[int], week_start: datetime) -> str:
    """A ticket for every call whose id ends in 0, 3 or 6: ids 1..0.3 * calls, in call order."""
    names, words = categories()
    normal = _array(_cumulative(category_weights(names, report_week=False)))
    rising = _array(_cumulative(category_weights(names, report_week=True)))
    units = "(ARRAY[" + ",".join(str(u) for u in unit_ids) + "]::int[])"
    place = (
        f"{_array(DISTRICTS)}[1 + floor(bench_u(c.id, 23) * {len(DISTRICTS)})::int]"
        f" || {_array(STREETS)}[1 + floor(bench_u(c.id, 24) * {len(STREETS)})::int] || '街道'"
    )
    return f"""
INSERT INTO tickets (id, number, call_id, caller_number, category, request_type, summary,
  location, urgent, department_id, tier_days, accepted_at, due_at, status, satisfaction,
  updated_at, enterprise, visit_required, visited, lead_unit_id, sign_due_at, signed_at, reply,
  replied_at, direct_answer, extension_days, extension_reason, returns, reopen_count,
  supervised, closed_at, merged_into_id, channel, kb_entry_id)
SELECT tid, to_char(accepted AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD') || lpad(tid::text, 7, '0'),
  call_id, caller, category, request_type, summary, location, urgent, NULL, tier, accepted,
  accepted + tier * interval '1 day', status, satisfaction,
  coalesce(closed, replied, accepted), enterprise, NOT direct, satisfaction IS NOT NULL, unit,
  CASE WHEN NOT direct THEN accepted + interval '1 day' END, signed,
  CASE WHEN replied IS NOT NULL THEN '已按诉求办理，并答复市民' END, replied, direct, 0, NULL,
  returns, reopens, 0, closed,
  CASE WHEN merged AND tid > 1 THEN tid - 1 END, 'phone', NULL
FROM (
  SELECT *, CASE WHEN direct THEN '已销号' WHEN replied IS NULL
      THEN CASE WHEN signed IS NULL THEN '已派单' ELSE '办理中' END
      WHEN replied + interval '7 days' < timestamptz '{END.isoformat()}' THEN '已销号'
      WHEN satisfaction IS NULL THEN '已办结' ELSE '已回访' END AS status,
    CASE WHEN replied + interval '7 days' < timestamptz '{END.isoformat()}'
      THEN replied + interval '7 days' END AS closed
  FROM (
    SELECT *,
      CASE WHEN replied IS NOT NULL AND NOT direct AND bench_u(tid, 30) < 0.85 THEN
        CASE WHEN bench_u(tid, 31) < 0.45 + 0.45 * q THEN '满意'
          WHEN bench_u(tid, 31) < 0.6 + 0.35 * q THEN '基本满意' ELSE '不满意' END
      END AS satisfaction,
      (bench_u(tid, 32) < 0.05 * (1.6 - q))::int AS returns,
      (bench_u(tid, 33) < 0.06 * (1.6 - q))::int AS reopens
    FROM (
      SELECT *, CASE WHEN signed_at < timestamptz '{END.isoformat()}' THEN signed_at END
          AS signed,
        CASE WHEN replied_at < timestamptz '{END.isoformat()}' THEN replied_at END AS replied
      FROM (
      SELECT *,
        CASE WHEN NOT direct THEN accepted
          + (0.05 + 1.6 * (1 - q) * bench_u(tid, 28)) * interval '1 day' END AS signed_at,
        CASE WHEN direct THEN accepted
          ELSE accepted + tier * (0.15 + bench_u(tid, 29) * (0.5 + 1.2 * (1 - q)))
            * interval '1 day' END AS replied_at
      FROM (
        SELECT *, 0.55 + 0.45 * bench_u(coalesce(unit, 0), 77) AS q
        FROM (
          SELECT (c.id / 10) * 3 + (c.id % 10) / 3 AS tid, c.call_id, c.caller_num AS caller,
            c.ended_at AS accepted, c.skill = 'enterprise' AS enterprise,
            {_array(names)}[cat] AS category,
            CASE WHEN c.ended_at >= timestamptz '{week_start.isoformat()}'
              AND cat = {names.index(SPIKE_CATEGORY) + 1} AND bench_u(c.id, 25) < 0.6
              THEN '{SPIKE_PLACE}' ELSE place END AS location,
            CASE WHEN c.ended_at >= timestamptz '{week_start.isoformat()}'
              AND cat = {names.index(SPIKE_CATEGORY) + 1} AND bench_u(c.id, 25) < 0.6
              THEN '{SPIKE_PLACE}' ELSE place END
              || {_array(_phrases(words, SUMMARIES))}[(cat - 1) * {len(SUMMARIES)} + 1
                + floor(bench_u(c.id, 26) * {len(SUMMARIES)})::int] AS summary,
            {_array(REQUEST_TYPES)}[1 + width_bucket(bench_u(c.id, 27),
              {_array(_cumulative(REQUEST_WEIGHTS))})] AS request_type,
            bench_u(c.id, 34) < 0.01 AS urgent, bench_u(c.id, 35) < 0.01 AS merged,
            (ARRAY[3, 5, 10, 15])[1 + floor(bench_u(c.id, 36) * 4)::int] AS tier,
            direct, CASE WHEN NOT direct
              THEN {units}[1 + floor(bench_u(c.id, 37) * {len(unit_ids)})::int] END AS unit
          FROM (
            SELECT c.*, (c.id / 10) * 3 + (c.id % 10) / 3 AS tid,
              1 + width_bucket(bench_u(c.id, 21), CASE
                WHEN c.ended_at >= timestamptz '{week_start.isoformat()}' THEN {rising}
                ELSE {normal} END) AS cat,
              bench_u(c.id, 22) < 0.3 AS direct, {place} AS place
            FROM call_records c WHERE c.id % 10 IN (0, 3, 6)
            OFFSET 0
          ) c
          OFFSET 0
        ) a
        OFFSET 0
      ) b
      OFFSET 0
      ) r
      OFFSET 0
    ) d
    OFFSET 0
  ) e
  OFFSET 0
) f
"""


CALLBACK_TASKS = """
INSERT INTO callback_tasks (id, number, city, skill, source, call_id, waited_s, created_at,
  status, attempts, closed_at, next_attempt_at, reason)
SELECT c.id, c.caller_num, c.city, 'general', 'abandoned', c.call_id,
  extract(epoch FROM c.ended_at - c.queued_at), c.ended_at, 'done',
  1 + (bench_u(c.id, 41) < 0.3)::int, c.ended_at + interval '40 minutes', NULL, NULL
FROM call_records c
WHERE c.outcome = 'abandoned' AND bench_u(c.id, 40) < 0.85
"""

CALLBACK_ATTEMPTS = """
INSERT INTO callback_attempts (task_id, attempt, key, city, seat_id, started_at,
  seat_answered_at, dialled_at, answered_at, ended_at, outcome, dial_status, leg_id)
SELECT t.id, a, 'cb-' || t.id || '-' || a, t.city,
  t.city || '-' || lpad(floor(bench_u(t.id, 42) * 150)::int::text, 3, '0'), s.at,
  s.at + interval '5 seconds', s.at + interval '6 seconds',
  CASE WHEN a = t.attempts THEN s.at + interval '20 seconds' END,
  s.at + CASE WHEN a = t.attempts THEN interval '150 seconds' ELSE interval '40 seconds' END,
  CASE WHEN a = t.attempts THEN 'connected' ELSE 'noanswer' END,
  CASE WHEN a = t.attempts THEN 'ANSWER' ELSE 'NOANSWER' END, 'leg-' || t.id || '-' || a
FROM callback_tasks t
CROSS JOIN LATERAL generate_series(1, t.attempts) AS a
CROSS JOIN LATERAL (SELECT t.created_at
  + (a * 4 + bench_u(t.id, 43 + a) * 5) * interval '1 minute' AS at) s
"""

TRANSFERS = """
INSERT INTO call_transfers (call_id, city, kind, department_id, number, seat_id, room, key,
  stay, requested_at, answered_at, ended_at, seat_left_at, result)
SELECT c.call_id, c.city,
  CASE WHEN bench_u(c.id, 51) < 0.7 THEN 'conference' ELSE 'blind' END, NULL,
  '029' || lpad(floor(bench_u(c.id, 52) * 10000000)::int::text, 8, '0'), c.seat_id, NULL,
  'tr-' || c.id, bench_u(c.id, 51) < 0.7, c.answered_at + interval '60 seconds',
  c.answered_at + interval '75 seconds', c.ended_at, NULL, 'connected'
FROM call_records c
WHERE c.outcome = 'completed' AND bench_u(c.id, 50) < 0.04
"""


def visits_sql() -> str:
    city = f"{_array(CITIES)}[{_city_index('substr(t.call_id, 7)::bigint')}]"
    return f"""
INSERT INTO visit_calls (ticket_id, reply_round, mode, city, number, requested_by, created_at,
  status, attempts, key, started_at, next_attempt_at, outcome, result, closed_at)
SELECT t.id, 0, CASE WHEN bench_u(t.id, 60) < 0.7 THEN 'ivr' ELSE 'seat' END, {city},
  t.caller_number, 'system', t.replied_at, 'done', 1, 'visit-' || t.id,
  t.replied_at + interval '1 day', NULL, 'answered',
  CASE t.satisfaction WHEN '满意' THEN '1' WHEN '基本满意' THEN '2' ELSE '3' END,
  t.replied_at + interval '1 day 3 minutes'
FROM tickets t
WHERE t.satisfaction IS NOT NULL
"""


def recordings_sql(since: datetime) -> str:
    city = f"{_array(CITIES)}[{_city_index('substr(t.call_id, 7)::bigint')}]"
    return f"""
INSERT INTO recordings (id, call_id, attempt, city, seat_id, speaker, path, format,
  sample_rate, duration_s, size_bytes, sha256, started_at, indexed_at, qa_hold, deleted_at,
  asr_queued_at)
SELECT t.id, t.call_id, 1, {city}, NULL, 'mixed', '/var/lib/hotline/rec/' || t.call_id || '.wav',
  'wav-pcm16', 8000, d.s, (d.s * 16000)::bigint, md5(t.call_id) || md5(t.number),
  t.accepted_at - d.s * interval '1 second', t.accepted_at, false, NULL, t.accepted_at
FROM tickets t
CROSS JOIN LATERAL (SELECT 60 + bench_u(t.id, 70) * 400 AS s) d
WHERE t.accepted_at >= timestamptz '{since.isoformat()}'
"""


def transcripts_sql() -> str:
    names, words = categories()
    sayings = _array(_phrases(words, SAYINGS))
    return f"""
INSERT INTO transcripts (recording_id, call_id, speaker, text, model, audio_s, created_at)
SELECT r.id, r.call_id, 'mixed',
  {sayings}[(array_position({_array(names)}, t.category) - 1) * {len(SAYINGS)} + 1
    + floor(bench_u(t.id, 71) * {len(SAYINGS)})::int] || '，地址是' || coalesce(t.location, ''),
  'vosk-model-cn-0.22', r.duration_s, r.indexed_at
FROM recordings r JOIN tickets t ON t.id = r.id
"""


def drafts_sql(since: datetime) -> str:
    return f"""
INSERT INTO call_drafts (call_id, draft, source, created_at, updated_at)
SELECT t.call_id, json_build_object('category', t.category, 'summary', t.summary,
    'location', t.location,
    'emotion', {_array(EMOTIONS)}[1 + floor(bench_u(t.id, 72) * {len(EMOTIONS)})::int]),
  'asr', t.accepted_at, t.accepted_at
FROM tickets t
WHERE t.accepted_at >= timestamptz '{since.isoformat()}'
"""
