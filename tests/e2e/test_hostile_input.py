"""Manifests are untrusted: names that carry rich markup or terminal escapes, encodings that
are not UTF-8, paths that are not files. Each run ends with exit 0, 1 or 2, no traceback,
and nothing in the output that a terminal would act on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HOSTILE = """\
apiVersion: v1
kind: Pod
metadata: {name: "p[/]", namespace: shop, labels: {app: a}}
spec:
  containers: [{name: c, image: i, ports: [{containerPort: 80, name: http}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: "q[bold]X\\e[2J\\e]8;;http://x\\a", namespace: shop, labels: {app: b}}
spec:
  containers: [{name: c, image: i}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: "np\\e[31m", namespace: shop}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress: [{from: [{podSelector: {matchLabels: {app: b}}}]}]
"""
RAW = ("\x1b", "\x07", "\x9b")


def run(
    args: list[str], stdin: bytes | None = None, closed_stdin: bool = False
) -> tuple[int, str, str]:
    proc = subprocess.run(
        [sys.executable, "-c", "from microseg.cli.app import main; main()", *args],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None and not closed_stdin else None,
        capture_output=True,
        timeout=120,
        check=False,
        close_fds=True,
        env={**os.environ, "NO_COLOR": "1"},
        **({"pass_fds": ()} if closed_stdin else {}),
    )
    return proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "c.yaml"
    path.write_text(HOSTILE, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "args",
    [
        ["connectivity"],
        ["connectivity", "-o", "md"],
        ["connectivity", "-o", "csv"],
        ["connectivity", "-o", "dot"],
        [
            "reach",
            "--from",
            "shop/q[bold]X\x1b[2J\x1b]8;;http://x\x07[Pod]",
            "--to",
            "shop/p[/][Pod]",
        ],
        ["stats"],
        ["exposure"],
        ["identity"],
        ["lint"],
        ["blast-radius", "--from", "shop/p[/][Pod]"],
    ],
    ids=lambda a: " ".join(a)[:40],
)
def test_hostile_names_reach_no_terminal(hostile: Path, args: list[str]) -> None:
    code, out, err = run([args[0], str(hostile), *args[1:]])
    assert code in (0, 1), err
    assert "Traceback" not in err
    for raw in RAW:
        assert raw not in out, (raw, out[:2000])
        assert raw not in err, (raw, err[:2000])
    if args[0] not in ("stats", "lint"):  # those two print no workload names
        assert "p[/]" in out  # shown as the characters it has, not read as markup


INTENTS = """\
apiVersion: microseg.dev/v1alpha1
kind: SegmentationIntent
metadata: {name: hostile}
spec:
  groups:
    ghost: {workload: "shop/gh\\x0f\\x07ost"}
    shop: {namespace: shop}
  deny:
    - {from: ghost, to: shop}
"""


def test_notices_quoting_intents_and_arguments_reach_no_terminal(
    hostile: Path, tmp_path: Path
) -> None:
    """Notices on stderr quote what the user or a file said (a group's absent workload, a
    --from that matches nothing): found by the long fuzz run, where verify's notice printed
    an intents file's control character raw."""
    intents = tmp_path / "intents.yaml"
    intents.write_text(INTENTS, encoding="utf-8")
    for args in (
        ["verify", str(hostile), "--intents", str(intents)],
        ["blast-radius", str(hostile), "--from", "shop/none\x1b[2J\x0f"],
    ):
        code, out, err = run(args)
        assert code in (0, 1, 2), err
        assert "Traceback" not in err
        assert "notice" in err or "error" in err, err
        for raw in (*RAW, "\x0f"):
            assert raw not in out, (args[0], raw, out[:2000])
            assert raw not in err, (args[0], raw, err[:2000])


def test_a_device_as_a_path_is_refused(tmp_path: Path) -> None:
    code, out, err = run(["connectivity", "/dev/zero"])
    assert code == 2
    assert "error[MS001]" in err
    assert "not a regular file" in err
    assert out == ""


def test_a_fifo_is_refused_not_waited_for(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    code, _, err = run(["connectivity", str(fifo)])
    assert code == 2
    assert "not a regular file" in err
    (tmp_path / "pod.yaml").write_text(HOSTILE, encoding="utf-8")
    code, out, err = run(["connectivity", str(tmp_path)])  # inside a folder: a notice
    assert code == 0, err
    assert f"{fifo}: notice[MS001]: skipped: not a regular file" in err
    assert out


def test_links_to_folders_are_named_not_followed(tmp_path: Path) -> None:
    """As `kubectl apply -R` (filepath.Walk follows no link): a link loop cannot recurse,
    and neither it nor a link to a real folder is skipped in silence."""
    (tmp_path / "pod.yaml").write_text(HOSTILE, encoding="utf-8")
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "ns.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: other}\n", encoding="utf-8"
    )
    (tmp_path / "loop").symlink_to(tmp_path)
    (tmp_path / "elsewhere").symlink_to(tmp_path / "real")
    code, out, err = run(["stats", str(tmp_path)])
    assert code == 0, err
    for link in ("loop", "elsewhere"):
        line = f"{tmp_path / link}: notice[MS001]: skipped: a link to a folder is not followed"
        assert err.count(line) == 1, err
    assert "real/ns.yaml" not in err  # read once, through the folder itself
    assert out


def test_stdin_that_is_not_utf8_is_a_located_error() -> None:
    code, out, err = run(
        ["connectivity", "-"], stdin=b"apiVersion: v1\nkind: Pod\nmetadata: {name: \xff}\n"
    )
    assert code == 2
    assert "<stdin>:3: error[MS001]: cannot read: not UTF-8 text" in err
    assert out == ""


def test_closed_stdin_is_an_error_not_a_crash() -> None:
    proc = subprocess.run(
        f"{sys.executable} -c 'from microseg.cli.app import main; main()' connectivity - <&-",
        shell=True,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert b"stdin is closed" in proc.stderr
    assert b"Traceback" not in proc.stderr


def test_a_lone_surrogate_in_json_is_printed_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(
        '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p\\ud800","namespace":"a"},'
        '"spec":{"containers":[{"name":"c","image":"i"}]}}',
        encoding="utf-8",
    )
    for fmt in ("txt", "json", "md", "csv"):
        code, out, err = run(["connectivity", str(path), "-o", fmt])
        assert code == 0, err
        assert "p\\ud800" in out


@pytest.mark.parametrize(
    "field",
    ['"labels": PLACE', '"annotations": {"a": PLACE}'],
    ids=["labels", "annotations"],
)
def test_json_nested_950_deep_is_a_clean_error(tmp_path: Path, field: str) -> None:
    # JSON is read by the C decoder, which takes ~1,000 levels; what recursed on the value
    # afterwards (messages, memo keys) once raised RecursionError.
    deep = "[" * 950 + "]" * 950
    meta = '{"name": "p", "namespace": "a", ' + field.replace("PLACE", deep) + "}"
    path = tmp_path / "deep.json"
    path.write_text(
        '{"apiVersion": "v1", "kind": "Pod", "metadata": ' + meta + ', "spec": {"containers": '
        '[{"name": "c", "image": "i"}]}}',
        encoding="utf-8",
    )
    code, _, err = run(["connectivity", str(path)])
    assert code in (0, 2), err
    assert "Traceback" not in err
    assert len(err) < 2000  # the value is quoted with a bound, not 1,900 brackets


def test_out_of_memory_names_what_was_asked_and_the_size(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A MemoryError is one error line (exit 2) with numpy's request and the input's size."""
    import sys

    from microseg.cli import app as app_module
    from microseg.engine import Connectivity

    def no_memory(*_args: object, **_kwargs: object) -> Connectivity:
        raise MemoryError(
            "Unable to allocate 2.15 GiB for an array with shape (12001, 12001, 2) "
            "and data type uint64"
        )

    monkeypatch.setattr(Connectivity, "build", staticmethod(no_memory))
    demo = Path(__file__).resolve().parents[2] / "examples" / "demo"
    monkeypatch.setattr(sys, "argv", ["microseg", "stats", str(demo), "-q"])
    with pytest.raises(SystemExit) as exit_info:
        app_module.main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: out of memory (Unable to allocate 2.15 GiB")
    assert " pods, " in err
    assert "policies" in err
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1
