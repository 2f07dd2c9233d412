"""Every Redis key this project uses, in one place.

Keys that one ACD routing decision touches carry the same hash tag ``{acd}`` so a single Lua
script may touch them on Redis Cluster: one tag for every city, because a 多援一 decision reads
and reserves seats of other cities. Keys written together in one MULTI share a tag too
(``{cmd}``, ``{api}``, the client address of the login counters); docs/scaling.md.
Keep names short: they are on the hot path of every routing decision.
"""

from __future__ import annotations

PREFIX = "hl"

# --- ACD (one hash tag for everything a routing decision reads or writes) ---------------
ACD_TAG = "{acd}"


ACD_KEY_PREFIX = f"{PREFIX}:{ACD_TAG}:"  # the Lua scripts get it as an argument
# The ACD's per-thing keys: kind -> the parts after the kind. The Python functions below and
# the key functions of every Lua script (acd.queue.scripts.lua_keys) are both built from this
# table, so a key is named in one place for both languages.
ACD_KEYS: dict[str, tuple[str, ...]] = {
    "q": ("city", "skill"),  # sorted set of waiting call ids, scored by (priority, arrival)
    "call": ("call_id",),  # hash with a waiting or ringing call's routing data
    "seat": ("seat_id",),  # hash with a seat's live state
    "ready": ("city", "skill"),  # sorted set of ready seats with the skill, by idle-since
    "city": ("city",),  # hash with a city's overflow switch and helping cities
    "seats": ("city",),  # set of every seat id whose home is the city
    "active": ("city",),  # set of the city's calls the ACD holds (the resync compares it)
    "seq": (),  # monotonically increasing decision counter
    # A city's controller lease (store.lease): in the ACD's tag, so every ACD script can
    # check the caller's fencing token against it in the same atomic step.
    "lease": ("city",),  # string: the holder's fencing token, with a PX expiry
    "fence": ("city",),  # counter: the last fencing token handed out (INCR per acquisition)
    "fenced": ("city",),  # counter: ACD writes refused for a stale token
}


def _acd(kind: str, *parts: str) -> str:
    return ACD_KEY_PREFIX + ":".join((kind, *parts))


def acd_queue(city: str, skill: str) -> str:
    return _acd("q", city, skill)


def acd_call(call_id: str) -> str:
    return _acd("call", call_id)


def acd_seat(seat_id: str) -> str:
    return _acd("seat", seat_id)


def acd_ready(city: str, skill: str) -> str:
    return _acd("ready", city, skill)


def acd_city(city: str) -> str:
    return _acd("city", city)


def acd_city_seats(city: str) -> str:
    return _acd("seats", city)


def acd_active(city: str) -> str:
    return _acd("active", city)


def acd_lease(city: str) -> str:
    return _acd("lease", city)


def acd_fence(city: str) -> str:
    return _acd("fence", city)


def acd_fenced(city: str) -> str:
    return _acd("fenced", city)


ACD_RINGING = f"{PREFIX}:{ACD_TAG}:ringing"  # zset call id -> ring deadline
ACD_WRAPUP = f"{PREFIX}:{ACD_TAG}:wrapup"  # zset seat id -> wrap-up end
ACD_SEQ = _acd("seq")

# --- live statistics and wallboard --------------------------------------------------
STATS_STREAM = f"{PREFIX}:stats:stream"


def stats_bucket(city: str, skill: str, bucket: str) -> str:
    """Counters of one minute (``YYYYmmddHHMM``) or one day (``YYYYmmdd``), local time."""
    return f"{PREFIX}:stats:{city}:{skill}:{bucket}"


# --- AMI links -------------------------------------------------------------------
def ami_link(city: str) -> str:
    """Hash the controller keeps current: state, since, last error."""
    return f"{PREFIX}:ami:{city}"


def ami_journal(city: str) -> str:
    """The last UTC hour (``YYYYmmddHH``) of the dialplan's call journal the controller read."""
    return f"{PREFIX}:ami:journal:{city}"


def ami_action_once(key: str) -> str:
    """SET NX guard for actions that must reach Asterisk at most once (callback Originate)."""
    return f"{PREFIX}:ami:once:{key}"


# --- requests from the API to a city's controller (acd/commands/stream.py) -------------------
COMMAND_GROUP = "controllers"


CMD_TAG = "{cmd}"  # a reply is pushed and its request acknowledged in one MULTI


def commands(city: str) -> str:
    """Stream of requests (three-way, transfer, spy, ...) for one city's controller."""
    return f"{PREFIX}:{CMD_TAG}:{city}"


def command_reply(command_id: str) -> str:
    """List the controller pushes one request's result onto; expires."""
    return f"{PREFIX}:{CMD_TAG}:reply:{command_id}"


# --- calls and events ---------------------------------------------------------------
CALL_EVENTS_STREAM = f"{PREFIX}:calls:stream"


def seat_events(seat_id: str, db: int = 0) -> str:
    """Pub/sub channel that pops calls on one seat's page. Pub/sub ignores database numbers,
    so the channel names the database: deployments on two databases of one Redis server (or
    two test runs) never pop each other's seats. ``db``: see ``acd.notify.channel``."""
    return f"{PREFIX}:seat-events:{db}:{seat_id}"


# --- callbacks --------------------------------------------------------------------
def callback_claim(task_id: str) -> str:
    return f"{PREFIX}:cb:claim:{task_id}"


# --- recordings -------------------------------------------------------------------
def recordings_to_index(owner: str) -> str:
    """Hash call id -> the call's facts, for calls ended but not yet indexed (per city and
    loop: ``xa:acd``, ``xa:callbacks``), so a restarted controller finishes them."""
    return f"{PREFIX}:rec:to-index:{owner}"


# --- database writes kept while the database is unreachable (store.outbox) -----------------
def db_outbox(name: str) -> str:
    """List of a city's record and callback writes, oldest first, that wait for the database."""
    return f"{PREFIX}:db:outbox:{name}"


def db_outbox_failed(name: str) -> str:
    """List of outbox entries the database refused for another reason than an outage, each
    with its error, kept for a person to look at (never replayed by itself)."""
    return f"{PREFIX}:db:outbox:{name}:failed"


# --- ASR jobs ---------------------------------------------------------------------
ASR_STREAM = f"{PREFIX}:asr:jobs"
ASR_GROUP = "asr-workers"
# Held by the one worker that sweeps for recordings never queued (asr.queueing), per period.
ASR_SWEEP_LOCK = f"{PREFIX}:asr:sweep"


# --- API ----------------------------------------------------------------------------
def login_attempts(username: str, ip: str) -> str:
    """Failed logins of one account from one client address (the lockout a stranger elsewhere
    cannot trigger for the real user). Tagged by the address, like ``login_ip_failures``: a
    failure counts on both in one MULTI."""
    return f"{PREFIX}:api:login:{{{ip}}}:{username}"


def login_ip_failures(ip: str) -> str:
    """Failed logins from one client address, whatever the account (password spraying)."""
    return f"{PREFIX}:api:login-ip:{{{ip}}}"


def api_streams(user_id: int) -> str:
    """Sorted set of a user's open live streams (member: stream id, score: expiry in ms)."""
    return f"{PREFIX}:api:streams:{user_id}"


def recording_token(token_hash: str) -> str:
    """A short-lived token for one recording's audio (``<audio src>``), by its SHA-256."""
    return f"{PREFIX}:api:rec-token:{token_hash}"


HEALTH_PROBE = f"{PREFIX}:health"


# --- calls: callback execution, transfers, supervisor monitoring -------------------------
def callback_running(task_id: int | str) -> str:
    """The attempt (pseudo call id) a task is being tried with; SET by the claim script beside
    the seat it reserves, so it carries the ACD hash tag. Expires: a dead controller's claim
    does not hold the task for ever."""
    return f"{PREFIX}:{ACD_TAG}:cbrun:{task_id}"


CALLBACK_PSEUDO_PREFIX = "cb-"  # pseudo call ids of callback attempts in the ACD: cb-<task>-<n>


# --- API (api/): sessions ------------------------------------------------------------
# A session and its user's set are written in one MULTI, and a token names no user: every
# session key shares one tag.
SESSION_TAG = "{api}"


def api_token(token_hash: str) -> str:
    """Hash of one login session (user id, role, seat), keyed by the token's SHA-256; expires."""
    return f"{PREFIX}:{SESSION_TAG}:token:{token_hash}"


def api_user_tokens(user_id: int) -> str:
    """Set of a user's live token hashes, so disabling a user ends all its sessions."""
    return f"{PREFIX}:{SESSION_TAG}:user-tokens:{user_id}"


def api_lookup_budget(client: str) -> str:
    """Counter of a client address's citizen status lookups in the current minute; expires."""
    return f"{PREFIX}:api:lookup:{client}"


# --- int: the API and the controllers together -------------------------------------------
def route_latency(city: str) -> str:
    """Hash: the city's routing-decision durations as a fixed-bucket histogram (one field per
    bucket's upper bound, plus ``count`` and ``sum_us``); acd/queue/latency.py."""
    return f"{PREFIX}:int:route-latency:{city}"


# --- public intake (intake/guard.py) -----------------------------------------------------
def intake_budget(kind: str, who: str) -> str:
    """Counter of intake submissions of one client address or one phone in the window."""
    return f"{PREFIX}:intake:budget:{kind}:{who}"


def intake_pending(pending_id: str) -> str:
    """Hash of a submission waiting for its SMS code: the message, the code's digest, tries."""
    return f"{PREFIX}:intake:pending:{pending_id}"
