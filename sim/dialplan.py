"""A small interpreter of the generated IVR dialplan, so the simulator follows asterisk_conf/.

It executes only the applications and expression shapes the IVR compiler generates (and fails
loudly on anything else): the simulator runs a caller through the real
asterisk_conf/extensions_ivr.conf, from [ivr-<menu>] to the point where it is parked in
[acd-wait], and the compiler's tests walk their menus with it. Time does not pass in the menu.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

Step = tuple[str, str, str]  # label, application, arguments
Plan = dict[str, dict[str, list[Step]]]
IVR_CONF = Path(__file__).resolve().parent.parent / "asterisk_conf" / "extensions_ivr.conf"


class DialplanError(Exception):
    """The dialplan uses something this interpreter does not run, or loops forever."""


def load(path: Path = IVR_CONF) -> Plan:
    return parse(path.read_text(encoding="utf-8"))


def parse(text: str) -> Plan:
    contexts: dict[str, dict[str, list[Step]]] = {}
    steps: list[Step] = []
    current: dict[str, list[Step]] = {}
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip() if not raw.lstrip().startswith(";") else ""
        if not line:
            continue
        if line.startswith("["):
            current = contexts.setdefault(line[1 : line.index("]")], {})
            continue
        if not line.startswith(("exten", "same")):
            continue  # [general]/[globals] settings, #include
        m = re.match(r"(?:exten => ([^,]+),1|same => n)(?:\((\w+)\))?,(\w+)\((.*)\)$", line)
        if m is None:
            raise DialplanError(f"cannot parse {line!r}")
        exten, label, app, args = m.groups()
        if exten is not None:
            steps = current.setdefault(exten, [])
        steps.append((label or "", app, args))
    return contexts


@dataclass
class Call:
    globals: dict[str, str] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)
    open_hours: bool = True
    vars: dict[str, str] = field(
        default_factory=lambda: {"CITY": "xa", "HL_CALLID": "1700000000.1"}
    )
    caller: str = "13800001234"
    clock: int = 1_795_352_683  # EPOCH; MusicOnHold advances it
    queued: list[str] = field(default_factory=list)
    dial_status: str = "NOANSWER"  # what Dial() reports
    # True: the channel running the dialplan hangs up during Dial() (while it rings, or
    # while it talks when dial_status is ANSWER); False: the dialled party ends the Dial
    hangs_up_in_dial: bool = False
    astdb: dict[str, str] = field(default_factory=dict)  # "family/key" -> value
    marked: dict[str, int] = field(default_factory=dict)  # ConfBridge room -> marked users
    apps: list[str] = field(default_factory=list)  # Dial/MixMonitor/... with their arguments
    played: list[str] = field(default_factory=list)
    events: list[dict[str, str]] = field(default_factory=list)
    end: str = ""
    ran_h: bool = False  # the h extension ran

    def value(self, name: str) -> str:
        if name == "EPOCH":
            return str(self.clock)
        fn = re.fullmatch(r"(\w+)\((.*)\)", name, re.DOTALL)  # a value may hold a CR/LF
        if fn is None:
            return self.vars.get(name, self.globals.get(name, ""))
        func, arg = fn.groups()
        if func == "GLOBAL":
            return self.globals.get(arg, "")
        if func == "CALLERID" and arg == "num":
            return self.caller
        if func == "DB_EXISTS":
            return "1" if arg in self.astdb else "0"
        if func == "DB":
            return self.astdb.get(arg, "")
        if func == "CONFBRIDGE_INFO" and arg.startswith("marked,"):
            return str(self.marked.get(arg.partition(",")[2], 0))
        return _pure_function(func, arg, self.clock)

    def subst(self, text: str) -> str:
        """Asterisk's substitution (pbx_substitute_variables_helper_full): left to right, the
        inside of each ``${...}``/``$[...]`` expanded first, and a value, once substituted,
        is never read again: a caller's number holding ``$[...]`` stays text."""
        out: list[str] = []
        i = 0
        while i < len(text):
            if text.startswith(("${", "$["), i):
                end = _closing(text, i + 1)
                inner = self.subst(text[i + 2 : end])
                out.append(self.value(inner) if text[i + 1] == "{" else _evaluate(inner))
                i = end + 1
            else:
                out.append(text[i])
                i += 1
        return "".join(out)


def _closing(text: str, start: int) -> int:
    """Where the bracket opened at ``start`` closes; as Asterisk, only brackets of its own kind
    count, and an unclosed one runs to the end of the text."""
    opening = text[start]
    closing = "}" if opening == "{" else "]"
    depth = 0
    for i in range(start, len(text)):
        if text[i] == opening:
            depth += 1
        elif text[i] == closing:
            depth -= 1
            if depth == 0:
                return i
    return len(text)


def _pure_function(func: str, arg: str, clock: int) -> str:
    """The functions that read nothing of the channel (``clock``: what EPOCH is now)."""
    if func == "TOUPPER":
        return arg.upper()
    if func == "FILTER":
        allowed, _, string = arg.partition(",")
        return "".join(c for c in string if c in _allowed(allowed))
    if func == "STRFTIME":
        epoch, zone, fmt = [*arg.split(",", 2), "", ""][:3]
        if zone != "UTC":
            raise DialplanError(f"STRFTIME in zone {zone!r} not supported by the simulator")
        return datetime.fromtimestamp(int(epoch) if epoch else clock, UTC).strftime(fmt or "%c")
    if func == "IF":
        cond, _, choices = arg.partition("?")
        yes, _, no = choices.partition(":")
        return yes if cond == "1" else no
    raise DialplanError(f"function {func} not supported by the simulator")


def _allowed(spec: str) -> set[str]:
    """FILTER's allowed characters: single ones and ranges such as ``0-9``."""
    chars: set[str] = set()
    i = 0
    while i < len(spec):
        if i + 2 < len(spec) and spec[i + 1] == "-":
            chars |= {chr(c) for c in range(ord(spec[i]), ord(spec[i + 2]) + 1)}
            i += 3
        else:
            chars.add(spec[i])
            i += 1
    return chars


def _arith(text: str) -> str:
    text = text.strip().strip('"')
    if not re.fullmatch(r"-?\d+(\s*[-+]\s*\d+)*", text):
        return text
    total, sign = 0, 1
    for token in re.findall(r"-?\d+|[-+]", text):
        if token in "+-":
            sign = 1 if token == "+" else -1
        else:
            total, sign = total + sign * int(token), 1
    return str(total)


def _evaluate(expr: str) -> str:
    m = re.fullmatch(r"\s*(.*?)\s*(!=|>=|<=|=|>|<)\s*(.*?)\s*", expr)
    if m is None:
        return _arith(expr)
    left, op, right = _arith(m.group(1)), m.group(2), _arith(m.group(3))
    if op in ("=", "!="):
        return str(int((left == right) == (op == "=")))
    a, b = int(left), int(right)  # the walker compares numbers only
    return str(int({">=": a >= b, "<=": a <= b, ">": a > b, "<": a < b}[op]))


def walk(plan: Plan, call: Call, context: str, exten: str = "s") -> Call:
    """Run the call from context,exten,1 until it is parked, hangs up or runs out of input.

    When the dialplan ends with the channel hung up (Hangup(), a Dial that ends the dialplan,
    or the last priority), the context's ``h`` extension runs, as Asterisk's pbx loop does."""
    call.vars["EXTEN"] = exten
    where = (context, _extension(plan[context], exten), 0)
    for _ in range(500):
        ctx, exten, index = where
        steps = plan[ctx][exten]
        if index >= len(steps):
            call.end = "hangup"  # off the end of the extension: Asterisk hangs up
            nxt = None
        else:
            _label, app, args = steps[index]
            nxt = _run(plan, call, where, app, call.subst(args))
        if call.end == "hangup" and exten != "h" and "h" in plan[ctx]:
            call.end = ""
            call.ran_h = True
            where = (ctx, "h", 0)
            continue
        if call.end:
            return call
        where = nxt if nxt is not None else (ctx, exten, index + 1)
    raise DialplanError("the call loops forever")


_PATTERN = {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]", ".": ".+", "!": ".*"}


def _extension(context: dict[str, list[Step]], exten: str) -> str:
    """The extension of ``context`` that ``exten`` runs: itself, or the pattern (``_X.``,
    ``_room.``) that matches it (the walker's dialplans have one candidate each)."""
    if exten in context:
        return exten
    for name in context:
        if name.startswith("_"):
            regex = "".join(_PATTERN.get(c, re.escape(c)) for c in name[1:])
            if re.fullmatch(regex, exten):
                return name
    raise DialplanError(f"no extension matches {exten!r}")


def _target(plan: Plan, here: tuple[str, str, int], to: str) -> tuple[str, str, int]:
    parts = to.split(",")
    ctx, exten = here[0], here[1]
    if len(parts) == 3:
        ctx, exten = parts[0], parts[1]
    elif len(parts) == 2:
        exten = parts[0]
    prio = parts[-1]
    steps = plan[ctx][exten]
    if prio == "1":
        return ctx, exten, 0
    return ctx, exten, next(i for i, s in enumerate(steps) if s[0] == prio)


def _run(
    plan: Plan,
    call: Call,
    here: tuple[str, str, int],
    app: str,
    args: str,
) -> tuple[str, str, int] | None:
    """One application; returns where to jump, or None for the next priority."""
    if app == "WaitExten":
        if not call.inputs:
            call.end = "caller gone"
            return None
        key = call.inputs.pop(0)
        return here[0], key if key == "t" or key in plan[here[0]] else "i", 0
    if app == "Goto":
        if args == "acd-wait,s,1" and here[0] != "acd-wait":
            call.end = "parked"
            return None
        return _target(plan, here, args)
    if app in ("GotoIf", "GotoIfTime"):
        cond, _, to = args.partition("?")
        taken = call.open_hours if app == "GotoIfTime" else cond == "1"
        return _target(plan, here, to) if taken else None
    _effect(call, app, args)
    return None


def _effect(call: Call, app: str, args: str) -> None:
    if app == "Set":
        _set(call, args)
    elif app == "ExecIf":
        _exec_if(call, args)
    elif app in ("Background", "Playback"):
        call.played.append(args)
    elif app == "UserEvent":
        name, *fields = args.split(",")
        call.events.append({"Event": name, **dict(f.split(": ", 1) for f in fields)})
    elif app == "MusicOnHold":
        call.clock += int(args.split(",")[1])
    elif app == "Queue":
        call.queued.append(args)  # nobody answers in the walker: Queue() returns
    elif app == "Dial":
        call.apps.append(f"Dial({args})")
        _dial(call, args)
    elif app in ("MixMonitor", "StopMixMonitor", "ConfBridge"):
        call.apps.append(f"{app}({args})")
    elif app in ("Hangup", "Return"):
        # Return ends a Gosub: a hangup handler is done
        call.end = "hangup" if app == "Hangup" else "returned"
    elif app == "DBdeltree":
        _deltree(call, args)
    elif app not in ("Answer", "NoOp"):
        raise DialplanError(f"application {app} not supported by the simulator")


def _deltree(call: Call, family: str) -> None:
    prefix = family.strip("/") + "/"
    for key in [k for k in call.astdb if k.startswith(prefix)]:
        del call.astdb[key]


def _set(call: Call, args: str) -> None:
    key, _, val = args.partition("=")
    db = re.fullmatch(r"DB\((.*)\)", key)
    if db is not None:
        call.astdb[db.group(1)] = val
    else:
        call.vars[key] = val


def _exec_if(call: Call, args: str) -> None:
    cond, _, inner = args.partition("?")
    m = re.fullmatch(r"(\w+)\((.*)\)", inner)
    if m is None:
        raise DialplanError(f"cannot run ExecIf({args})")
    if cond == "1":
        _effect(call, m.group(1), m.group(2))


def _dial(call: Call, args: str) -> None:
    """What app_dial.c leaves behind: DIALSTATUS, and whether the dialplan goes on.

    Asterisk sets DIALSTATUS as Dial returns (CANCEL when the channel hung up while it rang).
    After an answered call Dial returns -1, which ends the dialplan, unless the g option is
    given and the channel itself is still up (OPT_GO_ON); an unanswered Dial returns 0."""
    options = args.split(",", 2)[2] if args.count(",") >= 2 else ""
    options = re.sub(r"\([^()]*\)", "", options)  # U(hl-journal-answered): not option g
    answered = call.dial_status == "ANSWER"
    if call.hangs_up_in_dial:
        call.vars["DIALSTATUS"] = "ANSWER" if answered else "CANCEL"
        call.end = "hangup"
        return
    call.vars["DIALSTATUS"] = call.dial_status
    if answered and "g" not in options:
        call.end = "hangup"
