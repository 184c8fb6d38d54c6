"""Container image references: registry, repository, tag and digest, as the distribution
reference grammar reads them (github.com/distribution/reference, `reference.go`:
`[domain/]path[:tag][@digest]`; the first component is a domain when it holds a `.` or a
`:` or is `localhost`, else the image is on Docker Hub, `docker.io`, and a one-component
path is under `library/`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "ImageRef",
    "has_tag",
    "image_candidates",
    "parse_image",
    "qualified",
    "registry_allowed",
    "registry_regex",
]

DEFAULT_DOMAIN = "docker.io"


@dataclass(frozen=True, slots=True)
class ImageRef:
    written: str
    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def full(self) -> str:
        """The fully qualified name without tag or digest (`docker.io/library/nginx`)."""
        return f"{self.domain}/{self.path}"


def parse_image(image: str) -> ImageRef:
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = ""
    if colon > slash:  # a `:` after the last `/` starts the tag, not a registry port
        name, tag = name[:colon], name[colon + 1 :]
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        domain, path = first, rest
    else:
        domain, path = DEFAULT_DOMAIN, name
        if "/" not in path:
            path = f"library/{path}"
    return ImageRef(image, domain, path, tag, digest)


def _is_glob(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern


def escape_regex(text: str) -> str:
    """Every character but letters and digits escaped: the same pattern means the same in
    Python's `re` and in RE2, which CEL's `matches` uses."""
    return "".join(ch if ch.isascii() and ch.isalnum() else "\\" + ch for ch in text)


@lru_cache(maxsize=1024)
def registry_regex(pattern: str) -> str:
    """One registry entry as a regular expression over an image name: a glob (`*` any run
    of characters, `?` one) matches the whole name; any other entry is a prefix that ends at
    a path boundary (`registry.example.com` matches `registry.example.com/app`, not
    `registry.example.com.evil.io/app`). The checks and the exported CEL both use it."""
    if _is_glob(pattern):
        body = "".join({"*": ".*", "?": "."}.get(ch) or escape_regex(ch) for ch in pattern)
        return f"^{body}$"
    if pattern.endswith("/"):
        return f"^{escape_regex(pattern)}"
    return f"^{escape_regex(pattern)}([/:@].*)?$"


def qualified(written: str) -> str:
    """The reference with its domain made explicit (`nginx:1` -> `docker.io/library/nginx:1`),
    tag and digest kept."""
    first, sep, _ = written.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return written
    return f"{DEFAULT_DOMAIN}/{written}" if sep else f"{DEFAULT_DOMAIN}/library/{written}"


def image_candidates(ref: ImageRef) -> tuple[str, ...]:
    """The names an entry is matched against: as written, and fully qualified."""
    return (ref.written, qualified(ref.written))


def has_tag(written: str) -> bool:
    """A `:` after the last `/` (before any digest) starts a tag."""
    name = written.partition("@")[0]
    return name.rfind(":") > name.rfind("/")


def registry_allowed(ref: ImageRef, patterns: tuple[str, ...]) -> bool:
    if not patterns:
        return True
    cands = image_candidates(ref)
    return any(_compiled(p).search(cand) for p in patterns for cand in cands)


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(registry_regex(pattern))
