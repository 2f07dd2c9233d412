"""The automated return visit's dialplan: [revisit-ivr] as committed, walked key by key, and
the HotlineVisit event it emits read back by the controller's parser."""

from __future__ import annotations

import pytest

from ivr.compile import TARGET
from ivr.events import EventError, VisitResult, parse_visit
from ivr.revisit import CONTEXT, compile_revisit, load_revisit
from sim.dialplan import Call, parse, walk

PLAN = parse(TARGET.read_text(encoding="utf-8"))
KEY = "rv-7-1"


def _visit(inputs: list[str], astdb: dict[str, str] | None = None) -> Call:
    call = Call(inputs=inputs, astdb=dict(astdb or {}))
    call.vars.update(
        {"HL_IDEMPOTENCY": KEY, "HL_TICKET": "42", "HL_VISIT": "7", "UNIQUEID": "1700000001.5"}
    )
    return walk(PLAN, call, CONTEXT)


def _results(call: Call) -> list[str]:
    return [e["Result"] for e in call.events if e["Event"] == "HotlineVisit"]


@pytest.mark.parametrize(("keys", "result"), [(["1"], "1"), (["2"], "2"), (["3"], "3")])
def test_one_key_answers_and_thanks(keys: list[str], result: str) -> None:
    call = _visit(keys)
    assert _results(call) == [result]
    assert call.played == ["hl-revisit-greeting", "hl-revisit-question", "hl-revisit-thanks"]
    assert call.astdb == {f"hlrv/{KEY}": result}
    assert call.end == "hangup" and call.ran_h  # h ran, and reported nothing twice


def test_silence_and_a_wrong_key_ask_again_then_the_answer_counts() -> None:
    call = _visit(["t", "9", "3"])
    assert _results(call) == ["3"]
    assert call.played == [
        "hl-revisit-greeting",
        "hl-revisit-question",
        "hl-revisit-retry",
        "hl-revisit-question",
        "hl-revisit-invalid",
        "hl-revisit-question",
        "hl-revisit-thanks",
    ]


def test_no_answer_after_the_last_try_is_none() -> None:
    call = _visit(["t", "t", "t", "1"])  # the 1 comes too late: three questions were asked
    assert _results(call) == ["none"]
    assert call.played[-1] == "hl-revisit-goodbye"
    assert call.played.count("hl-revisit-question") == load_revisit().max_tries
    assert call.inputs == ["1"]


def test_an_attempt_that_already_ran_asks_nobody() -> None:
    call = _visit(["3"], {f"hlrv/{KEY}": "1"})
    assert call.events == [] and call.played == []
    assert call.astdb == {f"hlrv/{KEY}": "1"}  # the first answer is kept


def test_the_event_carries_the_contract_fields_and_parses() -> None:
    (event,) = _visit(["2"]).events
    assert event["Event"] == "HotlineVisit"
    assert parse_visit(event, ["xa"]) == VisitResult("1700000001.5", "xa", 42, 7, "2")


def test_the_parser_lists_every_problem() -> None:
    bad = {"City": "xa", "CallId": "1700000001.5", "Ticket": "0", "Visit": "x", "Result": "4"}
    with pytest.raises(EventError) as err:
        parse_visit(bad)
    text = str(err.value)
    assert "Ticket" in text and "Visit" in text and "Result" in text
    with pytest.raises(EventError, match="missing Result"):
        parse_visit({k: v for k, v in bad.items() if k != "Result"})


def test_the_committed_context_is_what_the_yaml_compiles_to() -> None:
    text = TARGET.read_text(encoding="utf-8")
    assert compile_revisit(load_revisit()) in text
