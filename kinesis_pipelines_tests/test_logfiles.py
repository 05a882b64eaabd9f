"""The driver's log kept within a size by the rotator, and read back by offset across rotations:
nothing a reader follows is lost or repeated when the file is rotated, rotated twice between two
reads, truncated in place, or grows past the 2 MB that `logs` shows first."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path

from kinesis_pipelines.logfiles import LogFile, TailFollower, pieces, rotate_stream, rotated_files


def numbered(first: int, count: int, width: int = 100) -> bytes:
    """`count` lines of `width` bytes each, numbered from `first`."""
    return b"".join(
        f"line {n:08d} ".ljust(width - 1, "x").encode() + b"\n" for n in range(first, first + count)
    )


def oldest_first(log: Path) -> list[Path]:
    return [*reversed(rotated_files(log)), log]


def reader(chunks: list[bytes], between: Callable[[int], None] = lambda _: None) -> Callable[[], bytes]:
    """A `read` for rotate_stream that hands out `chunks`, calling `between(i)` before chunk i."""
    feed: Iterator[tuple[int, bytes]] = enumerate(chunks)

    def read() -> bytes:
        for index, chunk in feed:
            between(index)
            return chunk
        return b""

    return read


def test_every_file_stays_within_its_size_and_only_backups_are_kept(tmp_path: Path) -> None:
    log = tmp_path / "driver.log"
    data = numbered(0, 300) + b"y" * 5000 + b"\n" + b"not UTF-8: \xff\xfe\xc3\n" + numbered(300, 300)
    cut = random.Random(7)
    chunks, at = [], 0
    while at < len(data):  # the pipe hands over whatever was written, not whole lines
        size = cut.randint(1, 3000)
        chunks.append(data[at : at + size])
        at += size
    rotate_stream(reader(chunks), log, max_bytes=2048, backups=3)

    files = oldest_first(log)
    assert len(files) == 4 and not (tmp_path / "driver.log.4").exists()
    assert [path.stat().st_size <= 2048 for path in files] == [True] * 4
    kept = b"".join(path.read_bytes() for path in files)
    assert kept == data[-len(kept) :]  # the newest bytes, in order, byte for byte
    assert len(kept) > 3 * 2048 - 100  # full files rotated, not a trickle


def test_lines_written_whole_stay_whole_and_a_long_line_is_cut_at_the_size(tmp_path: Path) -> None:
    log = tmp_path / "driver.log"
    rotate_stream(reader([numbered(0, 5), numbered(5, 40), b"tail\n"]), log, max_bytes=1000, backups=10)
    files = oldest_first(log)
    assert all(path.read_bytes().endswith(b"\n") for path in files)
    assert [len(path.read_bytes().splitlines()) for path in files][:-1] == [10, 10, 10, 10]  # 100-byte lines
    assert [len(piece) for piece in pieces(b"z" * 2500 + b"\n", 1000)] == [1000, 1000, 501]


def test_new_follows_by_offset_past_the_first_two_megabytes(tmp_path: Path) -> None:
    """The old follower compared lengths of the last 2 MB and went silent once the log passed it."""
    log = tmp_path / "driver.log"
    log.write_bytes(numbered(0, 30_000))  # 3 MB
    follower = LogFile(log)
    assert follower.tail(max_bytes=1000).endswith("line 00029999 " + "x" * 85 + "\n")
    assert follower.new() == ""
    with open(log, "ab", buffering=0) as handle:
        handle.write(b"one more\n")
        assert follower.new() == "one more\n"
        handle.write(numbered(30_000, 25_000))
    assert follower.new() == numbered(30_000, 25_000).decode()


def test_new_continues_across_rotations_with_nothing_lost_or_repeated(tmp_path: Path) -> None:
    """A real rotation under a reader: after every chunk, after every other (the file rotated
    twice between two reads), and with the reader opened before the log exists."""
    for read_every in (1, 2, 3):
        log = tmp_path / f"every-{read_every}" / "driver.log"
        log.parent.mkdir()
        follower = LogFile(log)
        chunks = [numbered(n * 15, 15) for n in range(40)]  # 1,500 bytes each, files of 3,000
        seen: list[str] = []

        def look(index: int, every: int = read_every, out: list[str] = seen, f: LogFile = follower) -> None:
            if index % every == 0:
                out.append(f.new())

        rotate_stream(reader(chunks, look), log, max_bytes=3000, backups=4)
        seen.append(follower.new())
        assert "".join(seen) == b"".join(chunks).decode(), f"reading every {read_every} chunk(s)"
        assert len(rotated_files(log)) == 4


def test_a_log_truncated_in_place_is_read_again_from_its_start(tmp_path: Path) -> None:
    log = tmp_path / "driver.log"
    log.write_bytes(numbered(0, 50))
    follower = LogFile(log)
    follower.tail()
    log.write_bytes(b"begun again\n")  # same file, truncated, shorter than what was read
    assert follower.new() == "begun again\n"


def test_tail_reaches_into_the_rotated_files(tmp_path: Path) -> None:
    log = tmp_path / "driver.log"
    rotate_stream(reader([numbered(0, 30), numbered(30, 2)]), log, max_bytes=1000, backups=5)
    assert log.stat().st_size == 200  # the current file holds the last two lines only
    assert LogFile(log).tail(max_bytes=2500) == numbered(7, 25).decode()
    assert LogFile(tmp_path / "missing.log").tail() == ""


def test_a_windowed_log_is_followed_part_by_part() -> None:
    """YARN offers the last bytes of a container's stdout and stderr under `==> name <==` lines:
    what is new in each part is printed once, and a gap wider than the window is said."""
    window: list[str] = ["==> c1 stdout <==\nout 1\n==> c1 stderr <==\nerr 1\nerr 2\n"]
    follower = TailFollower(lambda: window[0])
    assert follower.tail() == window[0]
    assert follower.new() == ""
    window[0] = "==> c1 stdout <==\nout 1\nout 2\n==> c1 stderr <==\nerr 2\nerr 3\n"  # err 1 left the window
    assert follower.new() == "==> c1 stdout <==\nout 2\n==> c1 stderr <==\nerr 3\n"
    window[0] = "==> c1 stdout <==\nsomething else entirely\n==> c1 stderr <==\nerr 2\nerr 3\n"
    assert "lines may be missing" in follower.new()
    plain = ["a\nb\n"]
    single = TailFollower(lambda: plain[0])
    single.tail()
    plain[0] = "b\nc\n"
    assert single.new() == "c\n"
