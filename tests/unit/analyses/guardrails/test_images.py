"""Image references as the distribution grammar reads them, and registry entries."""

from __future__ import annotations

import pytest

from microseg.analyses.guardrails import has_tag, parse_image, qualified, registry_allowed


@pytest.mark.parametrize(
    ("image", "domain", "path", "tag", "digest"),
    [
        ("nginx", "docker.io", "library/nginx", "", ""),
        ("nginx:1.27", "docker.io", "library/nginx", "1.27", ""),
        ("acme/app:2", "docker.io", "acme/app", "2", ""),
        ("localhost:5000/app", "localhost:5000", "app", "", ""),
        ("localhost/app:1", "localhost", "app", "1", ""),
        ("ghcr.io/a/b@sha256:abc", "ghcr.io", "a/b", "", "sha256:abc"),
        ("ghcr.io/a/b:1@sha256:abc", "ghcr.io", "a/b", "1", "sha256:abc"),
    ],
)
def test_parse(image: str, domain: str, path: str, tag: str, digest: str) -> None:
    ref = parse_image(image)
    assert (ref.domain, ref.path, ref.tag, ref.digest) == (domain, path, tag, digest)


def test_qualified_and_tags() -> None:
    assert qualified("nginx:1") == "docker.io/library/nginx:1"
    assert qualified("acme/app") == "docker.io/acme/app"
    assert qualified("quay.io/a/b") == "quay.io/a/b"
    assert has_tag("a:1")
    assert not has_tag("localhost:5000/app")
    assert not has_tag("app@sha256:abc")


@pytest.mark.parametrize(
    ("image", "patterns", "allowed"),
    [
        ("registry.example.com/app:1", ("registry.example.com",), True),
        ("registry.example.com.evil.io/app:1", ("registry.example.com",), False),
        ("registry.example.com:443/app", ("registry.example.com",), True),
        ("ghcr.io/acme/app", ("ghcr.io/acme/",), True),
        ("ghcr.io/acmeevil/app", ("ghcr.io/acme/",), False),
        ("nginx:1", ("docker.io/library/*",), True),
        ("nginx:1", ("docker.io/acme/*",), False),
        ("quay.io/x/yz:1", ("quay.io/?/y*",), True),
        ("anything", (), True),
    ],
)
def test_registries(image: str, patterns: tuple[str, ...], allowed: bool) -> None:
    assert registry_allowed(parse_image(image), patterns) is allowed
