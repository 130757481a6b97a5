"""sources.registry: image names as docker reads them, and the v2 token flow against a fake
registry (tests/fakes/registry.py) through the real urllib transport."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from gradient_runtime_test.sources.registry import (
    ImageName,
    ImageStatus,
    UrllibTransport,
    check_image,
    parse_image,
    registry_url,
)
from tests.fakes.registry import DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, FakeRegistry

pytestmark = pytest.mark.server
HTTP = UrllibTransport({})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ubuntu", ImageName("docker.io", "library/ubuntu", None, None)),
        ("ubuntu:22.04", ImageName("docker.io", "library/ubuntu", "22.04", None)),
        ("docker.io/ubuntu", ImageName("docker.io", "library/ubuntu", None, None)),
        (
            "paperspace/gradient-base:pt112-tf29-jax0314-py39-20220803",
            ImageName(
                "docker.io", "paperspace/gradient-base", "pt112-tf29-jax0314-py39-20220803", None
            ),
        ),
        ("ghcr.io/o/r/img:1", ImageName("ghcr.io", "o/r/img", "1", None)),
        ("localhost:5000/img", ImageName("localhost:5000", "img", None, None)),
        ("127.0.0.1:5000/org/img:t", ImageName("127.0.0.1:5000", "org/img", "t", None)),
        (
            "org/img:t@sha256:" + "a" * 64,
            ImageName("docker.io", "org/img", "t", "sha256:" + "a" * 64),
        ),
    ],
)
def test_image_names_normalise_as_docker_does(text: str, expected: ImageName) -> None:
    assert parse_image(text) == expected


@pytest.mark.parametrize("text", ["Org/Img", "org/img:bad tag", "org//img", "org/img@sha256:xyz"])
def test_bad_image_names_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not"):
        parse_image(text)


def test_registry_urls() -> None:
    assert registry_url(parse_image("org/img")) == "https://registry-1.docker.io"
    assert registry_url(parse_image("org/img"), "http://127.0.0.1:1/") == "http://127.0.0.1:1"
    assert registry_url(parse_image("ghcr.io/o/i")) == "https://ghcr.io"
    assert registry_url(parse_image("localhost:5000/o/i")) == "http://localhost:5000"
    assert registry_url(parse_image("[::1]:5000/o/i")) == "http://[::1]:5000"


@pytest.fixture
def registry() -> Iterator[FakeRegistry]:
    with FakeRegistry() as fake:
        yield fake


def test_an_index_is_found_through_the_token_flow(registry: FakeRegistry) -> None:
    digest = registry.add_image("org/img", "1.0", OCI_INDEX)
    check = check_image(f"{registry.host}/org/img:1.0", transport=HTTP)
    assert (check.status, check.digest) == (ImageStatus.FOUND, digest)
    methods = [(m, p.split("?")[0], "authorization" in h) for m, p, h in registry.requests]
    assert methods == [
        ("HEAD", "/v2/org/img/manifests/1.0", False),  # 401 with the Bearer challenge
        ("GET", "/token", False),
        ("HEAD", "/v2/org/img/manifests/1.0", True),
    ]
    token_query = registry.requests[1][1]
    assert "service=fake-registry" in token_query and "repository%3Aorg%2Fimg%3Apull" in token_query


@pytest.mark.parametrize("media_type", [DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX])
def test_docker_hub_names_go_to_the_hub_url(registry: FakeRegistry, media_type: str) -> None:
    digest = registry.add_image("library/ubuntu", "22.04", media_type)
    check = check_image("ubuntu:22.04", transport=HTTP, docker_hub_url=registry.url)
    assert (check.status, check.digest, check.registry) == (
        ImageStatus.FOUND,
        digest,
        registry.host,
    )


def test_a_pinned_digest_is_asked_for_by_digest(registry: FakeRegistry) -> None:
    digest = registry.add_image("org/img", "1.0")
    check = check_image(f"org/img:old@{digest}", transport=HTTP, docker_hub_url=registry.url)
    assert check.status == ImageStatus.FOUND
    assert registry.manifest_requests()[-1][1] == f"/v2/org/img/manifests/{digest}"


def test_a_missing_tag_and_a_missing_repository_are_missing(registry: FakeRegistry) -> None:
    registry.add_image("org/img", "1.0")
    tag = check_image(f"{registry.host}/org/img:2.0", transport=HTTP)
    assert tag.status == ImageStatus.MISSING
    assert tag.detail == "no manifest for '2.0' (MANIFEST_UNKNOWN)"
    repo = check_image(f"{registry.host}/org/nothing:1", transport=HTTP)
    assert (repo.status, repo.detail) == (ImageStatus.MISSING, "no such repository (NAME_UNKNOWN)")


def test_what_cannot_be_known_is_unknown_not_missing() -> None:
    with FakeRegistry(hub_unknown_repositories=True) as hub:
        hub.add_image("org/secret", "1", private=True)
        for image in (f"{hub.host}/org/secret:1", f"{hub.host}/org/nothing:1"):
            check = check_image(image, transport=HTTP)
            assert check.status == ImageStatus.UNKNOWN, image
            assert "refused an anonymous pull" in check.detail
    for status in (429, 500, 503):
        with FakeRegistry(manifest_status=status) as broken:
            broken.add_image("org/img", "1")
            check = check_image(f"{broken.host}/org/img:1", transport=HTTP)
            assert check.status == ImageStatus.UNKNOWN and str(status) in check.detail


def test_an_unreachable_registry_is_unknown() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    check = check_image(f"127.0.0.1:{port}/org/img:1", transport=HTTP, timeout_s=5)
    assert check.status == ImageStatus.UNKNOWN
    assert check.detail.startswith(f"127.0.0.1:{port} unreachable: ")


def test_head_refused_falls_back_to_get_and_a_missing_digest_is_none() -> None:
    with FakeRegistry(head_allowed=False, send_digest=False) as fake:
        fake.add_image("org/img", "1")
        check = check_image(f"{fake.host}/org/img:1", transport=HTTP)
        assert (check.status, check.digest) == (ImageStatus.FOUND, None)
        assert [m for m, _, _ in fake.manifest_requests()] == ["HEAD", "HEAD", "GET"]


def test_without_the_list_media_types_an_index_is_not_found(registry: FakeRegistry) -> None:
    """The fake is strict about Accept: what makes the found cases above meaningful."""
    registry.add_image("org/img", "1", OCI_INDEX)
    status, _ = _raw_head(registry, "org/img", "1", DOCKER_MANIFEST)
    assert status == 404


def _raw_head(registry: FakeRegistry, name: str, tag: str, accept: str) -> tuple[int, str]:
    token_reply = HTTP.request(
        "GET",
        f"{registry.url}/token?service=fake-registry&scope=repository:{name}:pull",
        {},
        5,
    )
    token = json.loads(token_reply.body)["token"]
    reply = HTTP.request(
        "HEAD",
        f"{registry.url}/v2/{name}/manifests/{tag}",
        {"Accept": accept, "Authorization": f"Bearer {token}"},
        5,
    )
    return reply.status, reply.headers.get("content-type", "")
