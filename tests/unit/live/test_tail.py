"""The tailer under fault injection: lines cut short, rotation (rename and copytruncate), a
source that disappears and comes back, a folder that gains files, and a restart that goes on
from the saved offsets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from microseg.live.tail import Tailer


def texts(lines: list) -> list[tuple[int, bytes, bool]]:  # type: ignore[type-arg]
    return [(ln.number, ln.data, ln.cut) for ln in lines]


def test_complete_lines_only_and_numbers(tmp_path: Path) -> None:
    f = tmp_path / "a.log"
    f.write_bytes(b"one\ntwo\nthr")
    t = Tailer(str(f))
    lines, _ = t.poll()
    assert texts(lines) == [(1, b"one", False), (2, b"two", False)]
    with f.open("ab") as h:
        h.write(b"ee\r\nfour\n")
    lines, _ = t.poll()
    assert texts(lines) == [(3, b"three", False), (4, b"four", False)]
    assert t.poll()[0] == []


def test_rotation_by_rename_reads_the_old_file_to_its_end(tmp_path: Path) -> None:
    f = tmp_path / "a.log"
    f.write_bytes(b"1\n")
    t = Tailer(str(f))
    assert len(t.poll()[0]) == 1
    with f.open("ab") as h:
        h.write(b"2\npartial")
    os.rename(f, tmp_path / "a.log.1")
    f.write_bytes(b"new-1\n")
    lines, notices = t.poll()
    assert texts(lines) == [(2, b"2", False), (3, b"partial", True), (1, b"new-1", False)]
    assert [n.kind for n in notices] == ["rotated"]


def test_copytruncate_is_read_again(tmp_path: Path) -> None:
    f = tmp_path / "a.log"
    f.write_bytes(b"1\n2\n")
    t = Tailer(str(f))
    t.poll()
    f.write_bytes(b"x\n")  # truncated in place, then written
    lines, notices = t.poll()
    assert texts(lines) == [(1, b"x", False)]
    assert [n.kind for n in notices] == ["truncated"]


def test_a_source_that_disappears_and_comes_back(tmp_path: Path) -> None:
    f = tmp_path / "a.log"
    t = Tailer(str(f))
    lines, notices = t.poll()
    assert lines == []
    assert [n.kind for n in notices] == ["missing"]
    assert t.poll()[1] == []  # said once
    f.write_bytes(b"1\n")
    lines, notices = t.poll()
    assert texts(lines) == [(1, b"1", False)]
    assert [n.kind for n in notices] == ["back"]
    f.unlink()
    lines, notices = t.poll()
    assert [n.kind for n in notices] == ["missing"]
    f.write_bytes(b"again\n")
    lines, notices = t.poll()
    assert texts(lines) == [(1, b"again", False)]


def test_restart_resumes_from_offsets(tmp_path: Path) -> None:
    f = tmp_path / "a.log"
    f.write_bytes(b"1\n2\n")
    t = Tailer(str(f))
    t.poll()
    saved = t.state()
    t.close()
    with f.open("ab") as h:
        h.write(b"3\n")
    t2 = Tailer(str(f), dict(saved))
    assert texts(t2.poll()[0]) == [(3, b"3", False)]
    # Another file at the path since: read from its start, said.
    f.unlink()
    f.write_bytes(b"other\n")
    t3 = Tailer(str(f), dict(saved))
    lines, notices = t3.poll()
    assert texts(lines) == [(1, b"other", False)]
    assert [n.kind for n in notices] == ["restarted"]


def test_folder_picks_up_new_files(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_bytes(b"a1\n")
    (tmp_path / ".hidden").write_bytes(b"no\n")
    t = Tailer(str(tmp_path))
    assert [ln.data for ln in t.poll()[0]] == [b"a1"]
    (tmp_path / "b.json").write_bytes(b"b1\n")
    got = t.poll()[0]
    assert [(Path(ln.file).name, ln.data) for ln in got] == [("b.json", b"b1")]


def test_an_overlong_line_is_cut(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import microseg.live.tail as tail

    monkeypatch.setattr(tail, "MAX_LINE", 10)
    f = tmp_path / "a.log"
    f.write_bytes(b"x" * 25 + b"\nok\n" + b"y" * 30)
    t = Tailer(str(f))
    lines = t.poll()[0]
    assert [(ln.cut, ln.data[:3]) for ln in lines] == [
        (True, b"xxx"),
        (False, b"ok"),
        (True, b"yyy"),
    ]
    with f.open("ab") as h:
        h.write(b"yyy\nnext\n")
    assert [(ln.cut, ln.data) for ln in t.poll()[0]] == [(False, b"next")]
