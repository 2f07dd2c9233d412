"""Framing and parsing: split reads, Chinese text, garbage, Asterisk's quirks."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pbx.events import UserEvent, VarSet, typed, unescape_c
from pbx.framing import AmiFramer
from pbx.message import Message, MissingField
from tests.conftest import AMI_FIXTURES

CN = "坐席2001（投诉专席：夜班=A组）张三丰"


def frame(*headers: tuple[str, str]) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n").encode()


def test_chinese_split_inside_a_character_comes_out_whole() -> None:
    data = b"Asterisk Call Manager/11.0.0\r\n" + frame(("Event", "UserEvent"), ("Name", CN))
    cut = data.index("席".encode()) + 1  # inside the 3-byte character
    framer = AmiFramer()
    assert framer.feed(data[:cut]) == []
    [msg] = framer.feed(data[cut:])
    assert msg["Name"] == CN
    assert framer.banner == "Asterisk Call Manager/11.0.0"
    assert framer.stats.undecodable == 0


def test_split_at_first_colon_space_only_and_repeats_kept() -> None:
    framer = AmiFramer()
    [msg] = framer.feed(
        frame(
            ("Event", "VarSet"),
            ("Value", "地址: 北京=中关村"),
            ("Variable", "A"),
            ("Variable", "B"),
        )
    )
    assert msg["Value"] == "地址: 北京=中关村"
    assert msg.getall("Variable") == ["A", "B"]


def test_missing_field_is_loud() -> None:
    msg = Message({"Event": "Hangup", "Channel": "PJSIP/1-1", "Uniqueid": "1.1", "Linkedid": "1.1"})
    try:
        typed(msg)
    except MissingField as exc:
        assert "Hangup" in str(exc) and "Cause" in str(exc)
    else:
        raise AssertionError("a Hangup without Cause must not pass")
    assert msg.get("Cause") is None


def test_global_varset_and_escapes() -> None:
    event = typed(
        Message(
            {
                "Event": "VarSet",
                "Channel": "none",
                "Uniqueid": "none",
                "Variable": "OVERLOAD_XA",
                "Value": 'json={\\"k\\":\\"v\\"}\\tx',
            }
        )
    )
    assert isinstance(event, VarSet)
    assert event.channel == "none" and event.linkedid is None
    assert event.value == 'json={"k":"v"}\tx'
    assert unescape_c("http://e.com/p\\?x=1") == "http://e.com/p?x=1"


def test_user_event_fields_leave_the_channel_snapshot_out() -> None:
    data = (AMI_FIXTURES / "acd_redirect_answer.ami").read_bytes()
    events = [typed(m) for m in AmiFramer().feed(data) if m.get("Event") == "UserEvent"]
    route = next(e for e in events if isinstance(e, UserEvent) and e.user_event == "HotlineRoute")
    assert route.fields == {"Skill": "enterprise", "City": "xa", "CallerNum": "13800001111"}


def test_garbage_lines_are_reported_and_neighbours_survive() -> None:
    problems: list[str] = []
    framer = AmiFramer(on_problem=problems.append)
    data = (
        frame(("Event", "A"))
        + b"garbage without colon\r\nEvent: B\r\nX: 1\r\n\r\n"
        + frame(("Event", "C"))
    )
    names = [m.name for m in framer.feed(data)]
    assert names == ["A", "B", "C"]
    assert framer.stats.malformed_lines == 1 and "garbage" in problems[0]


def test_lost_blank_line_does_not_merge_two_events() -> None:
    data = b"Event: A\r\nX: 1\r\nEvent: B\r\nX: 2\r\n\r\n"
    msgs = AmiFramer().feed(data)
    assert [(m.name, m["X"]) for m in msgs] == [("A", "1"), ("B", "2")]


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    framer = AmiFramer()
    msgs = framer.feed(b"Event: A\r\nName: \xff\xfe\r\n\r\n" + frame(("Event", "B")))
    assert [m.name for m in msgs] == ["A", "B"]
    assert framer.stats.undecodable == 1


def test_oversized_message_is_dropped_and_stream_recovers() -> None:
    framer = AmiFramer(max_message_bytes=1000)
    assert framer.feed(b"Event: Huge\r\nData: " + b"x" * 5000) == []
    assert framer.stats.oversized == 1
    [msg] = framer.feed(b"\r\n\r\n" + frame(("Event", "After")))
    assert msg.name == "After"


def test_every_capture_frames_without_problems() -> None:
    for capture in sorted(AMI_FIXTURES.glob("*.ami")):
        framer = AmiFramer()
        data = capture.read_bytes()
        msgs = [m for i in range(0, len(data), 997) for m in framer.feed(data[i : i + 997])]
        assert msgs, capture.name
        assert framer.stats.malformed_lines == 0 and framer.stats.undecodable == 0, capture.name


_value = st.text(
    alphabet=st.sampled_from(list("abcXYZ019 =:/;-_.") + list("坐席张三丰投诉专席")),
    min_size=0,
    max_size=30,
).map(str.strip)
_message = st.lists(
    st.tuples(st.sampled_from(["Channel", "Value", "Name", "Uniqueid", "X-y"]), _value),
    min_size=1,
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(
    messages=st.lists(_message, min_size=1, max_size=8),
    cuts=st.lists(st.integers(min_value=1, max_value=4000), max_size=30),
    garbage=st.lists(st.sampled_from([b"no colon here", b"\x00\x01", b"::::", b"   "]), max_size=3),
)
def test_fuzz_any_chunking_delivers_each_message_once(
    messages: list[list[tuple[str, str]]], cuts: list[int], garbage: list[bytes]
) -> None:
    stream = b"Asterisk Call Manager/11.0.0\r\n"
    expected = []
    for i, headers in enumerate(messages):
        block = [("Event", f"E{i}"), *headers]
        stream += frame(*block)
        if garbage:
            stream += garbage[i % len(garbage)] + b"\r\n\r\n"
        expected.append(f"E{i}")
    framer = AmiFramer(on_problem=lambda _p: None)
    got = []
    prev = 0
    for cut in [*sorted({c % len(stream) for c in cuts}), len(stream)]:
        got.extend(framer.feed(stream[prev:cut]))
        prev = cut
    names = [m.name for m in got if m.name.startswith("E") and m.kind == "event"]
    assert names == expected
    for msg, headers in zip([m for m in got if m.kind == "event"], messages, strict=True):
        first = {}
        for key, value in headers:
            first.setdefault(key, value)
        for key, value in first.items():
            assert msg[key] == value
