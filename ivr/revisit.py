"""The automated return visit (回访) as data: ivr/revisit.yaml -> the [revisit-ivr] context.

The controller originates the citizen's phone into ``[revisit-ivr]`` with the visit's ids and
idempotency key; the context asks for 1 (满意) / 2 (基本满意) / 3 (不满意), asks again on no
input or a wrong key, and reports once, as ``UserEvent(HotlineVisit, ..., Result: 1|2|3|none)``
(``none``: no answer after the last try, or the citizen hung up first). Like ``[callback]``,
it keeps AstDB ``hlrv/<key>`` (``ASKING``, then the result) and hangs up at once if the key
already ran, so one attempt never asks a citizen twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ivr.compile import DialplanContext
from ivr.menu import MenuError

SCRIPT = Path(__file__).resolve().parent / "revisit.yaml"
CONTEXT = "revisit-ivr"
ASTDB_FAMILY = "hlrv"
EVENT = "HotlineVisit"
RESULTS = {"1": "满意", "2": "基本满意", "3": "不满意"}  # key -> what the ticket records
NO_ANSWER = "none"
_PROMPTS = ("greeting", "question", "retry", "invalid", "thanks", "goodbye")
_FIELDS = (
    "City: ${CITY},CallId: ${HL_CALLID},Ticket: ${HL_TICKET},Visit: ${HL_VISIT},"
    "Result: ${HL_RV_RESULT}"
)


class RevisitScript(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout: int = Field(6, ge=2, le=30, description="seconds WaitExten waits for a key")
    max_tries: int = Field(3, ge=1, le=5, description="questions asked before `none`")
    prompts: dict[str, Annotated[str, Field(min_length=1, max_length=200)]]

    @field_validator("prompts")
    @classmethod
    def _prompts(cls, value: dict[str, str]) -> dict[str, str]:
        missing = [k for k in _PROMPTS if k not in value]
        extra = [k for k in value if k not in _PROMPTS]
        if missing or extra:
            raise ValueError(f"prompts: missing {missing}, unknown {extra}")
        for key, text in value.items():
            if any(c in text for c in ",;()[]{}$\\|\r\n"):
                raise ValueError(f"prompt {key!r} contains a character reserved by the dialplan")
        return value


def prompt_file(key: str) -> str:
    return f"hl-revisit-{key}"


def load_revisit(path: Path = SCRIPT) -> RevisitScript:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return RevisitScript.model_validate(data)
    except (OSError, yaml.YAMLError) as exc:
        raise MenuError(f"{path}: cannot read: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'script'}: {e['msg']}" for e in exc.errors()
        )
        raise MenuError(f"{path}: {problems}") from None


def compile_revisit(script: RevisitScript) -> str:
    ctx = DialplanContext(CONTEXT, "automated return visit: 1 满意 / 2 基本满意 / 3 不满意")
    ctx.exten(
        "s",
        f"GotoIf($[${{DB_EXISTS({ASTDB_FAMILY}/${{HL_IDEMPOTENCY}})}}]?dup)",
        f"Set(DB({ASTDB_FAMILY}/${{HL_IDEMPOTENCY}})=ASKING)",
        "Set(HL_RV_STARTED=1)",
        "Set(CHANNEL(language)=zh)",  # an originated leg does not pass [from-pstn]
        "Set(HL_CALLID=${UNIQUEID})",
        f"Set(HL_RV_RESULT={NO_ANSWER})",
        "Set(HL_RV_TRIES=1)",
        f"Background({prompt_file('greeting')})",
        f"ask:Background({prompt_file('question')})",
        f"WaitExten({script.timeout})",
        "dup:Hangup()",
    )
    for key in RESULTS:
        ctx.exten(key, f"Set(HL_RV_RESULT={key})", "Goto(result,1)")
    for exten, prompt in (("t", "retry"), ("i", "invalid")):
        ctx.exten(
            exten,
            f"GotoIf($[${{HL_RV_TRIES}} >= {script.max_tries}]?result,1)",
            "Set(HL_RV_TRIES=$[${HL_RV_TRIES} + 1])",
            f"Playback({prompt_file(prompt)})",
            "Goto(s,ask)",
        )
    ctx.exten(
        "result",
        f"Set(DB({ASTDB_FAMILY}/${{HL_IDEMPOTENCY}})=${{HL_RV_RESULT}})",
        "Set(HL_RV_DONE=1)",
        f"UserEvent({EVENT},{_FIELDS})",
        f'GotoIf($["${{HL_RV_RESULT}}" = "{NO_ANSWER}"]?bye)',
        f"Playback({prompt_file('thanks')})",
        "Hangup()",
        f"bye:Playback({prompt_file('goodbye')})",
        "Hangup()",
    )
    # The citizen hung up before the result (not after a refused duplicate): reported once.
    ctx.exten(
        "h",
        'GotoIf($["${HL_RV_STARTED}${HL_RV_DONE}" != "1"]?done)',
        f"Set(DB({ASTDB_FAMILY}/${{HL_IDEMPOTENCY}})={NO_ANSWER})",
        f"UserEvent({EVENT},{_FIELDS})",
        "done:NoOp()",
    )
    return ctx.render()


def prompt_files(script: RevisitScript) -> dict[str, str]:
    """Sound name -> text."""
    return {prompt_file(k): text for k, text in script.prompts.items()}
