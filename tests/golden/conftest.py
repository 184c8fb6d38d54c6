"""Golden files: `pytest --update-goldens` (option defined in tests/conftest.py) rewrites them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

GOLDEN_ROOT = Path(__file__).resolve().parent

Golden = Callable[[str, str], None]


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens", default=False))


@pytest.fixture
def golden(update_goldens: bool) -> Golden:
    """`golden("scenario/file", actual)`: compare with the stored file, or rewrite it."""

    def check(relative: str, actual: str) -> None:
        path = GOLDEN_ROOT / relative
        if update_goldens:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w", encoding="utf-8", newline="") as f:
                f.write(actual)
            return
        if not path.is_file():
            pytest.fail(f"missing golden file {relative}: run pytest tests/golden --update-goldens")
        with path.open(encoding="utf-8", newline="") as f:
            expected = f.read()
        assert actual == expected, (
            f"output differs from tests/golden/{relative}; if the change is intended, "
            "run pytest tests/golden --update-goldens and review the diff"
        )

    return check


@pytest.fixture
def demo(demo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The demo as the relative path `examples/demo`, run from the repository root, so that
    paths in outputs do not depend on where the repository is checked out."""
    repo = demo_dir.parents[1]
    monkeypatch.chdir(repo)
    return demo_dir.relative_to(repo).as_posix()
