from toolwire.engine.block_manager import BlockManager
from toolwire.engine.sampling_params import SamplingParams
from toolwire.engine.sequence import Sequence


def make_seq(tokens):
    return Sequence("r", list(tokens), SamplingParams())


def computed(manager, seq):
    """Pretend the model computed every token of seq, as the engine does after a step."""
    assert manager.allocate(seq, seq.num_uncomputed_tokens)
    seq.num_computed_tokens = seq.num_tokens
    manager.commit_full_blocks(seq)


def test_allocate_and_free_count_blocks():
    manager = BlockManager(num_blocks=9, block_size=4)
    assert manager.num_usable_blocks == 8 and manager.num_free_blocks == 8
    seq = make_seq(range(10))
    assert manager.blocks_needed(seq, 10) == 3
    assert manager.allocate(seq, 10)
    assert len(seq.block_table) == 3 and 0 not in seq.block_table
    assert manager.num_free_blocks == 5
    seq.num_computed_tokens = 10
    assert manager.blocks_needed(seq, 2) == 0 and manager.blocks_needed(seq, 3) == 1
    manager.free(seq)
    assert manager.num_free_blocks == 8 and seq.block_table == []


def test_allocate_takes_nothing_when_short():
    manager = BlockManager(num_blocks=3, block_size=4)
    seq = make_seq(range(12))
    assert not manager.allocate(seq, 12)
    assert seq.block_table == [] and manager.num_free_blocks == 2


def test_prefix_hit_shares_blocks_with_ref_counts():
    manager = BlockManager(num_blocks=16, block_size=4)
    first = make_seq(range(10))
    computed(manager, first)
    second = make_seq(list(range(8)) + [99, 98, 97])
    assert manager.match_prefix(second) == 8
    assert second.block_table == first.block_table[:2]
    assert [manager.ref_counts[b] for b in first.block_table] == [2, 2, 1]
    manager.free(first)
    assert [manager.ref_counts[b] for b in second.block_table] == [1, 1]
    manager.free(second)
    assert manager.num_free_blocks == 15


def test_prefix_match_leaves_a_token_to_compute():
    manager = BlockManager(num_blocks=16, block_size=4)
    first = make_seq(range(8))
    computed(manager, first)
    same = make_seq(range(8))
    assert manager.match_prefix(same) == 4  # the second block holds the last token: computed again


def test_freed_cached_blocks_are_reused_until_evicted():
    manager = BlockManager(num_blocks=4, block_size=4)  # 3 usable blocks
    first = make_seq(range(9))
    computed(manager, first)
    manager.free(first)
    again = make_seq(list(range(8)) + [50])
    assert manager.match_prefix(again) == 8
    manager.free(again)
    # Filling the whole cache with other tokens evicts the cached blocks, least recently used first.
    other = make_seq(range(100, 112))
    assert manager.allocate(other, 12)
    manager.free(other)
    assert manager.match_prefix(make_seq(list(range(8)) + [50])) == 0


def test_eviction_prefers_never_cached_blocks_then_lru():
    manager = BlockManager(num_blocks=5, block_size=2)  # 4 usable
    a = make_seq([1, 2, 3])
    computed(manager, a)  # block of [1, 2] cached, block of [3] not
    manager.free(a)
    b = make_seq([7, 8, 9])
    computed(manager, b)
    manager.free(b)
    # Two never-cached blocks go first, then the least recently freed cached block: a's.
    c = make_seq(range(20, 26))
    assert manager.allocate(c, 6)
    manager.free(c)
    assert manager.match_prefix(make_seq([1, 2, 3])) == 0
    assert manager.match_prefix(make_seq([7, 8, 9])) == 2


def test_hash_collisions_never_share_wrong_blocks():
    manager = BlockManager(num_blocks=16, block_size=4, hash_fn=lambda parent, tokens: 7)
    first = make_seq(range(10))
    computed(manager, first)
    # Every block hashes to 7: only the first registered block holds the hash.
    assert len(manager.cached_blocks) == 1
    other = make_seq(list(range(100, 108)) + [1])
    assert manager.match_prefix(other) == 0
    same_start = make_seq(list(range(8)) + [1])
    assert manager.match_prefix(same_start) == 4


def test_prefix_caching_off():
    manager = BlockManager(num_blocks=16, block_size=4, enable_prefix_caching=False)
    first = make_seq(range(10))
    computed(manager, first)
    assert manager.match_prefix(make_seq(range(10))) == 0
    assert not manager.cached_blocks
