from toolwire.protocol.tool_calls import DeltaFunctionCall, DeltaMessage, DeltaToolCall
from toolwire.formats.deltas import make_call_delta, make_delta


def test_built_deltas_equal_validated_ones():
    built = make_delta("hi", [make_call_delta(0, "call_x", "f", ""), make_call_delta(1, None, None, '{"a"')])
    validated = DeltaMessage(
        content="hi",
        tool_calls=[
            DeltaToolCall(index=0, id="call_x", type="function", function=DeltaFunctionCall(name="f", arguments="")),
            DeltaToolCall(index=1, function=DeltaFunctionCall(arguments='{"a"')),
        ],
    )
    assert built == validated
    assert built.model_dump() == validated.model_dump()
    assert built.model_dump_json(exclude_unset=True) == validated.model_dump_json(exclude_unset=True)
    assert built.model_dump_json(exclude_none=True) == validated.model_dump_json(exclude_none=True)
    assert DeltaMessage.model_validate(built.model_dump()) == built


def test_built_content_only_delta():
    assert make_delta("x") == DeltaMessage(content="x")
    assert make_delta("x").model_dump(exclude_unset=True) == {"content": "x", "tool_calls": []}
