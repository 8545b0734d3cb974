import json

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from toolwire.engine.detokenizer import IncrementalDetokenizer
from toolwire.engine.stop_checker import StopChecker
from tests.engine.toy_models import toy_tokenizer

TEXTS = [
    "Hello world! The quick brown fox.",
    "Über café naïve 日本語 emoji 🙂🙂 done.",
    "  leading spaces and\nnew lines\n\n  indented {\"a\": 1}",
]


def sentencepiece_tokenizer() -> PreTrainedTokenizerFast:
    """A Metaspace ("▁") tokenizer with byte fallback, like Llama 2's and Mistral's."""
    trained = Tokenizer(models.BPE())
    trained.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")
    trained.train_from_iterator(["Hello world! The quick brown fox jumps.", "leading spaces and lines"] * 4,
                                trainers.BpeTrainer(vocab_size=200, special_tokens=["<unk>", "</s>"]))
    vocab = trained.get_vocab()
    for byte in range(256):
        vocab.setdefault(f"<0x{byte:02X}>", len(vocab))
    merges = [tuple(m) for m in json.loads(trained.to_str())["model"]["merges"]]
    tokenizer = Tokenizer(models.BPE(vocab, merges, byte_fallback=True, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")
    tokenizer.decoder = decoders.Sequence([decoders.Metaspace(prepend_scheme="first"),
                                           decoders.ByteFallback(), decoders.Fuse()])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>", eos_token="</s>")


@pytest.mark.parametrize("make_tokenizer", [toy_tokenizer, sentencepiece_tokenizer])
@pytest.mark.parametrize("text", TEXTS)
def test_deltas_join_to_the_decoded_text_and_never_split_a_character(make_tokenizer, text):
    tokenizer = make_tokenizer()
    prompt = tokenizer.encode("User: hi", add_special_tokens=False)
    output = tokenizer.encode(" " + text, add_special_tokens=False)
    detokenizer = IncrementalDetokenizer(tokenizer, prompt)
    deltas = [detokenizer.step(t) for t in output]
    deltas.append(detokenizer.flush())
    assert all("\ufffd" not in d for d in deltas)
    expected = tokenizer.decode(prompt + output)[len(tokenizer.decode(prompt)):]
    assert "".join(deltas) == expected


def test_incomplete_character_waits_for_its_last_byte():
    tokenizer = toy_tokenizer()
    emoji_bytes = tokenizer.encode("🙂", add_special_tokens=False)
    assert len(emoji_bytes) > 1
    detokenizer = IncrementalDetokenizer(tokenizer, tokenizer.encode("a"))
    assert [detokenizer.step(t) for t in emoji_bytes[:-1]] == [""] * (len(emoji_bytes) - 1)
    assert detokenizer.step(emoji_bytes[-1]) == "🙂"


def test_flush_gives_out_an_incomplete_character():
    tokenizer = toy_tokenizer()
    first_byte = tokenizer.encode("🙂", add_special_tokens=False)[0]
    detokenizer = IncrementalDetokenizer(tokenizer, tokenizer.encode("a"))
    assert detokenizer.step(first_byte) == ""
    assert detokenizer.flush() == "\ufffd"


def test_special_tokens_are_skipped_or_kept():
    tokenizer = toy_tokenizer()
    eos = tokenizer.eos_token_id
    skip = IncrementalDetokenizer(tokenizer, [5])
    keep = IncrementalDetokenizer(tokenizer, [5], skip_special_tokens=False)
    assert skip.step(eos) == ""
    assert keep.step(eos) == "<eos>"


def feed_all(checker, pieces):
    return "".join(checker.feed(p) for p in pieces)


def test_stop_string_split_across_pieces_is_not_leaked():
    checker = StopChecker(["STOP"])
    assert checker.feed("abc S") == "abc "
    assert checker.feed("T") == ""
    assert checker.feed("OP and more") == ""
    assert checker.matched == "STOP"


def test_held_back_text_is_released_when_it_is_no_stop():
    checker = StopChecker(["STOP"])
    assert feed_all(checker, ["a S", "TO", "x"]) == "a STOx"
    assert checker.matched is None
    assert checker.feed("ST") == "" and checker.flush() == "ST"


def test_earliest_stop_string_wins_and_can_be_included():
    checker = StopChecker(["world", "lo w"], include_stop_str_in_output=True)
    assert feed_all(checker, ["hel", "lo world"]) == "hello w"
    assert checker.matched == "lo w"


def test_no_stop_strings_pass_text_through():
    checker = StopChecker([])
    assert checker.feed("anything S") == "anything S"
