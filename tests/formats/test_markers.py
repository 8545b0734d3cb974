from toolwire.formats.markers import LiteralMatcher, MarkerFinder
from toolwire.formats.text_log import TextLog


def test_marker_finder_finds_the_earliest_marker():
    finder = MarkerFinder(["<tool_call>", "<|python_tag|>"])
    assert finder.find("a <|python_tag|> <tool_call>") == (2, "<|python_tag|>")
    assert finder.find("<tool_call") is None


def test_marker_finder_reports_a_cut_marker_at_the_end():
    finder = MarkerFinder(["<tool_call>", "[TOOL_CALLS]"])
    assert finder.partial_at_end("hello <tool_") == 6
    assert finder.partial_at_end("hello <") == 1
    assert finder.partial_at_end("a < b") == 0
    assert finder.partial_at_end("<<tool") == 5
    assert finder.partial_at_end("x [TOOL") == 5
    assert finder.partial_at_end("<tool_call>") == 0  # a whole marker is found, not held


def test_literal_matcher_across_chunks_and_spellings():
    matcher = LiteralMatcher(["<｜tool▁call▁begin｜>", "<|tool▁call▁begin|>", "<｜tool▁calls▁end｜>"], start=0)
    assert matcher.feed("<｜tool▁ca", 0) == 9 and matcher.matched is None and not matcher.failed
    assert matcher.feed("lls▁end｜>rest", 0) == 9 and matcher.matched == "<｜tool▁calls▁end｜>"
    matcher = LiteralMatcher(["</tool_call>"], start=0)
    assert matcher.feed("</tool_x", 0) == 7 and matcher.failed


def test_text_log_slices_across_chunks_and_forgets():
    log = TextLog()
    for chunk in ["ab", "cd", "ef", "gh"]:
        log.append(chunk)
    assert log.slice(1, 7) == "bcdefg" and log.slice(4, 6) == "ef" and log.slice(3, 3) == ""
    log.forget_before(5)
    assert log.slice(5, 8) == "fgh" and log.slice(4, 5) == "e"
