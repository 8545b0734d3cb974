import itertools

from toolwire.engine.block_manager import BlockManager
from toolwire.engine.sampling_params import SamplingParams
from toolwire.engine.scheduler import Scheduler
from toolwire.engine.sequence import Sequence, SequenceStatus


def make_scheduler(num_blocks=64, block_size=4, max_num_seqs=8, budget=16):
    return Scheduler(BlockManager(num_blocks, block_size), max_num_seqs, budget)


_next_token = itertools.count(1000)


def add(scheduler, name, length):
    """Queue a sequence whose prompt shares no tokens with any other."""
    seq = Sequence(name, [next(_next_token) for _ in range(length)], SamplingParams())
    scheduler.add(seq)
    return seq


def run_step(scheduler):
    """Schedule, then play the engine: count computed tokens, append a token where logits came."""
    batch = scheduler.schedule()
    for seq, n in zip(batch.seqs, batch.num_new_tokens):
        seq.num_computed_tokens += n
        scheduler.block_manager.commit_full_blocks(seq)
        if seq.num_computed_tokens == seq.num_tokens:
            seq.append_token(7)
    return batch


def scheduled(batch):
    return [(seq.request_id, n) for seq, n in zip(batch.seqs, batch.num_new_tokens)]


def test_chunked_prefill_respects_the_token_budget():
    scheduler = make_scheduler(budget=16)
    add(scheduler, "a", 40)
    assert scheduled(run_step(scheduler)) == [("a", 16)]
    assert scheduled(run_step(scheduler)) == [("a", 16)]
    add(scheduler, "b", 10)
    # a finishes its prompt (8 tokens); b gets the rest of the budget.
    assert scheduled(run_step(scheduler)) == [("a", 8), ("b", 8)]
    # Decodes come first, then the rest of b's prompt.
    assert scheduled(run_step(scheduler)) == [("a", 1), ("b", 2)]
    assert scheduled(run_step(scheduler)) == [("a", 1), ("b", 1)]


def test_fcfs_admission_and_max_num_seqs():
    scheduler = make_scheduler(max_num_seqs=2, budget=100)
    for name in "abc":
        add(scheduler, name, 5)
    assert scheduled(run_step(scheduler)) == [("a", 5), ("b", 5)]
    assert [s.request_id for s in scheduler.waiting] == ["c"]
    scheduler.finish(scheduler.running[0])
    assert scheduled(run_step(scheduler)) == [("b", 1), ("c", 5)]


def test_a_waiting_sequence_that_does_not_fit_blocks_later_ones():
    scheduler = make_scheduler(num_blocks=6, block_size=4, budget=100)  # 5 usable blocks
    add(scheduler, "big", 24)
    add(scheduler, "small", 2)
    batch = run_step(scheduler)
    assert batch.is_empty  # FCFS: "small" does not jump the queue
    assert [s.request_id for s in scheduler.waiting] == ["big", "small"]
    assert scheduler.block_manager.num_free_blocks == 5


def test_preemption_takes_the_latest_admitted_and_requeues_it_first():
    scheduler = make_scheduler(num_blocks=4, block_size=2, budget=100)  # 3 usable blocks
    a = add(scheduler, "a", 2)
    b = add(scheduler, "b", 2)
    c = add(scheduler, "c", 2)
    assert scheduled(run_step(scheduler)) == [("a", 2), ("b", 2), ("c", 2)]
    # Each now needs a second block and none is free: a preempts c, then b has to go itself.
    batch = run_step(scheduler)
    assert scheduled(batch) == [("a", 1)]
    assert batch.preempted == [c, b]
    assert [s.request_id for s in scheduler.waiting] == ["b", "c"]
    assert b.status is SequenceStatus.WAITING and b.num_computed_tokens == 0 and not b.block_table
    assert scheduler.num_preemptions == 2
    # Preempted sequences keep their generated tokens and are computed again in full, but their
    # first block is still in the prefix cache.
    assert b.num_tokens == 3
    scheduler.finish(a)
    assert scheduled(run_step(scheduler)) == [("b", 1)]
    assert b.num_computed_tokens == 3 and b.num_cached_tokens == 0  # cached counts first admission
    assert [s.request_id for s in scheduler.waiting] == ["c"]


def test_a_sequence_alone_preempts_itself_when_nothing_else_is_left():
    scheduler = make_scheduler(num_blocks=3, block_size=4, budget=100)  # 2 usable blocks
    a = add(scheduler, "a", 8)
    run_step(scheduler)
    batch = run_step(scheduler)
    assert batch.is_empty and batch.preempted == [a]


def test_finish_frees_blocks_from_any_state():
    scheduler = make_scheduler(budget=4)
    a = add(scheduler, "a", 10)
    run_step(scheduler)  # a is mid-prefill
    b = add(scheduler, "b", 3)
    free_before = scheduler.block_manager.num_free_blocks
    scheduler.finish(a)
    scheduler.finish(b)
    assert scheduler.block_manager.num_free_blocks == free_before + 1
    assert not scheduler.has_unfinished()
    assert a.status is SequenceStatus.FINISHED and b.status is SequenceStatus.FINISHED
