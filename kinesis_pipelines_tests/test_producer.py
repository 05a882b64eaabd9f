import random

from kinesis_pipelines.producer import account, unique_ids, word_lines


def test_accounting_counts_loss_duplicates_and_strangers() -> None:
    ids = unique_ids("r", 5)
    seen = [ids[0], ids[1], ids[1], ids[2], "someone-else"]
    tally = account(ids, seen)
    assert (tally.produced, tally.processed, tally.distinct) == (5, 4, 3)
    assert (tally.lost, tally.duplicates, tally.unexpected) == (2, 1, 1)


def test_unique_ids_are_unique_and_sortable() -> None:
    ids = unique_ids("run", 1000, start=5)
    assert len(set(ids)) == 1000
    assert ids == sorted(ids)
    assert ids[0] == "run-000000005"


def test_word_lines_shape() -> None:
    lines = word_lines(3, 4, random.Random(1))
    assert len(lines) == 3
    assert all(len(line.split(" ")) == 4 for line in lines)
    assert all(word.isdigit() for line in lines for word in line.split(" "))
