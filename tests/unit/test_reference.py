"""Docker reference grammar and normalisation, checked against distribution/reference's cases."""

from __future__ import annotations

import random

import pytest

from dockyard import reference
from dockyard.errors import InvalidArgument
from dockyard.oci import Digest
from dockyard.reference import (
    is_image_id,
    is_short_id,
    parse,
    parse_any,
    parse_name,
    parse_reference,
)

F64 = "f" * 64
F128 = "f" * 128
D = "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"

# input -> (domain, path, tag, digest) for the bare grammar (no normalisation)
GRAMMAR_OK = [
    ("test_com", "", "test_com", None, None),
    ("test.com:tag", "", "test.com", "tag", None),
    ("test.com:5000", "", "test.com", "5000", None),
    ("test.com/repo:tag", "test.com", "repo", "tag", None),
    ("test:5000/repo", "test:5000", "repo", None, None),
    ("test:5000/repo:tag", "test:5000", "repo", "tag", None),
    (f"test:5000/repo@sha256:{F64}", "test:5000", "repo", None, f"sha256:{F64}"),
    (f"test:5000/repo:tag@sha256:{F64}", "test:5000", "repo", "tag", f"sha256:{F64}"),
    ("lowercase:Uppercase", "", "lowercase", "Uppercase", None),
    ("a/" * 127 + "a:tag-puts-this-over-max", "a", "a/" * 126 + "a", "tag-puts-this-over-max", None),
    ("sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com", "bar/baz/quux", None, None),
    ("sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com", "bar/baz/quux",
     "some-long-tag", None),
    ("b.gcr.io/test.example.com/my-app:test.example.com", "b.gcr.io", "test.example.com/my-app",
     "test.example.com", None),
    ("xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage", "xn--n3h.com", None),
    (f"xn--7o8h.com/myimage:xn--7o8h.com@sha512:{F128}", "xn--7o8h.com", "myimage",
     "xn--7o8h.com", f"sha512:{F128}"),
    ("foo_bar.com:8080", "", "foo_bar.com", "8080", None),
    ("foo/foo_bar.com:8080", "foo", "foo_bar.com", "8080", None),
    ("192.168.1.1", "", "192.168.1.1", None, None),
    ("192.168.1.1:tag", "", "192.168.1.1", "tag", None),
    ("192.168.1.1:5000", "", "192.168.1.1", "5000", None),
    ("192.168.1.1/repo", "192.168.1.1", "repo", None, None),
    ("192.168.1.1:5000/repo", "192.168.1.1:5000", "repo", None, None),
    ("192.168.1.1:5000/repo:5050", "192.168.1.1:5000", "repo", "5050", None),
    ("[2001:db8::1]/repo", "[2001:db8::1]", "repo", None, None),
    ("[2001:db8:1:2:3:4:5:6]/repo:tag", "[2001:db8:1:2:3:4:5:6]", "repo", "tag", None),
    ("[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "repo", None, None),
    ("[2001:db8::1]:5000/repo:tag", "[2001:db8::1]:5000", "repo", "tag", None),
    (f"[2001:db8::1]:5000/repo@sha256:{F64}", "[2001:db8::1]:5000", "repo", None, f"sha256:{F64}"),
    ("[2001:db8::]:5000/repo", "[2001:db8::]:5000", "repo", None, None),
    ("[::1]:5000/repo", "[::1]:5000", "repo", None, None),
]


@pytest.mark.parametrize("text,domain,path,tag,digest", GRAMMAR_OK)
def test_grammar_accepts(text: str, domain: str, path: str, tag: str | None, digest: str | None):
    ref = parse(text)
    assert (ref.domain, ref.path, ref.tag, ref.digest) == (domain, path, tag, digest)
    assert str(ref) == text


GRAMMAR_BAD = [
    ("", "at least one component"),
    (":justtag", "invalid"),
    (f"@sha256:{F64}", "invalid"),
    ("repo@sha256:" + "f" * 34, "length"),
    (f"validname@invaliddigest:{F64}", "unsupported digest algorithm"),
    ("Uppercase:tag", "must be lowercase"),
    ("test:5000/Uppercase/lowercase:tag", "must be lowercase"),
    ("a/" * 128 + "a:tag", "not be more than 255 characters"),
    ("aa/asdf$$^/aa", "invalid"),
    ("[2001:db8::1]", "invalid"),
    ("[2001:db8::1]:5000", "invalid"),
    ("[2001:db8::1]:tag", "invalid"),
    ("[fe80::1%eth0]:5000/repo", "invalid"),
    ("[fe80::1%@invalidzone]:5000/repo", "invalid"),
]


@pytest.mark.parametrize("text,reason", GRAMMAR_BAD)
def test_grammar_rejects_with_reason(text: str, reason: str):
    with pytest.raises(InvalidArgument) as info:
        parse(text)
    assert reason in str(info.value)


VALID_NAMES = [
    "docker/docker", "library/debian", "debian", "docker.io/docker/docker",
    "docker.io/library/debian", "docker.io/debian", "index.docker.io/docker/docker",
    "index.docker.io/library/debian", "index.docker.io/debian", "127.0.0.1:5000/docker/docker",
    "127.0.0.1:5000/library/debian", "127.0.0.1:5000/debian", "192.168.0.1", "192.168.0.1:80",
    "192.168.0.1:8/debian", "192.168.0.2:25000/debian",
    "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
    "[fc00::1]:5000/docker", "[fc00::1]:5000/docker/docker",
    "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
    "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
    "Docker/docker", "DOCKER/docker", "docker-rules/docker", "docker---rules/docker",
    "doc/docker", "d/docker", "jess/t", "dock__er/docker",
]


@pytest.mark.parametrize("text", VALID_NAMES)
def test_valid_names(text: str):
    ref = parse_reference(text)
    assert ref.tag in ("latest", "80") and str(parse_reference(str(ref))) == str(ref)


INVALID_NAMES = [
    "https://github.com/docker/docker", "docker/Docker", "-docker", "-docker/docker",
    "-docker.io/docker/docker", "docker///docker", "docker.io/docker/Docker",
    "docker.io/docker///docker", "[fc00::1]", "[fc00::1]:5000", "fc00::1:5000/debian",
    "[fe80::1%eth0]:5000/debian", "[2001:db8:3:4::192.0.2.33]:5000/debian",
    "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
    "docker-/docker", "-docker-/docker", "____/____", "_docker/_docker", "dock..er/docker",
    "dock_.er/docker", "dock-.er/docker", "docker/", "",
    "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_" * 4 + "/docker",
]


@pytest.mark.parametrize("text", INVALID_NAMES)
def test_invalid_names(text: str):
    with pytest.raises(InvalidArgument) as info:
        parse_reference(text)
    assert str(info.value)  # every rejection says why


# (input, full name, familiar name, domain, path)
NORMALISED = [
    ("fooo/bar", "docker.io/fooo/bar", "fooo/bar", "docker.io", "fooo/bar"),
    ("index.docker.io/fooo/bar", "docker.io/fooo/bar", "fooo/bar", "docker.io", "fooo/bar"),
    ("ubuntu", "docker.io/library/ubuntu", "ubuntu", "docker.io", "library/ubuntu"),
    ("library/ubuntu", "docker.io/library/ubuntu", "ubuntu", "docker.io", "library/ubuntu"),
    ("docker.io/foo", "docker.io/library/foo", "foo", "docker.io", "library/foo"),
    ("nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu", "nonlibrary/ubuntu", "docker.io",
     "nonlibrary/ubuntu"),
    ("other/library", "docker.io/other/library", "other/library", "docker.io", "other/library"),
    ("127.0.0.1:8000/private/moonbase", "127.0.0.1:8000/private/moonbase",
     "127.0.0.1:8000/private/moonbase", "127.0.0.1:8000", "private/moonbase"),
    ("example.com/privatebase", "example.com/privatebase", "example.com/privatebase",
     "example.com", "privatebase"),
    ("example.com:8000/privatebasee", "example.com:8000/privatebasee",
     "example.com:8000/privatebasee", "example.com:8000", "privatebasee"),
    ("index.docker.io/library/ubuntu-12.04-base", "docker.io/library/ubuntu-12.04-base",
     "ubuntu-12.04-base", "docker.io", "library/ubuntu-12.04-base"),
    ("library/foo/bar", "docker.io/library/foo/bar", "library/foo/bar", "docker.io",
     "library/foo/bar"),
    ("store/foo/bar", "docker.io/store/foo/bar", "store/foo/bar", "docker.io", "store/foo/bar"),
    ("Foo/bar", "Foo/bar", "Foo/bar", "Foo", "bar"),
    ("test_com/foo", "docker.io/test_com/foo", "test_com/foo", "docker.io", "test_com/foo"),
    ("test-com:8080/foo", "test-com:8080/foo", "test-com:8080/foo", "test-com:8080", "foo"),
    ("xn--n3h.com:18080/foo", "xn--n3h.com:18080/foo", "xn--n3h.com:18080/foo",
     "xn--n3h.com:18080", "foo"),
    ("localhost/foo", "localhost/foo", "localhost/foo", "localhost", "foo"),
    ("localhost:5000/a/b", "localhost:5000/a/b", "localhost:5000/a/b", "localhost:5000", "a/b"),
]


@pytest.mark.parametrize("text,full,familiar,domain,path", NORMALISED)
def test_normalisation(text: str, full: str, familiar: str, domain: str, path: str):
    ref = parse_name(text)
    assert (ref.name, ref.familiar_name(), ref.domain, ref.path) == (full, familiar, domain, path)
    assert str(ref) == full and ref.tag is None
    tagged = parse_reference(text)
    assert str(tagged) == full + ":latest"
    assert tagged.familiar() == familiar + ":latest"


def test_tag_and_digest_kept_together():
    short = f"busybox:latest@sha256:{D}"
    ref = parse_reference(short)
    assert str(ref) == "docker.io/library/" + short
    assert ref.familiar() == short
    assert str(ref.docker_ref()) == f"docker.io/library/busybox@sha256:{D}"


def test_digest_only_reference_gets_no_default_tag():
    ref = parse_reference(f"redis@sha256:{D}")
    assert ref.tag is None and ref.digest == f"sha256:{D}"
    assert str(ref) == f"docker.io/library/redis@sha256:{D}"


def test_uppercase_repository_message_matches_docker():
    with pytest.raises(InvalidArgument) as info:
        parse_reference("Ubuntu")
    assert str(info.value) == (
        "invalid reference format: repository name (library/Ubuntu) must be lowercase"
    )


def test_hex_id_is_not_a_name():
    with pytest.raises(InvalidArgument, match="cannot specify 64-byte hexadecimal strings"):
        parse_reference(D)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("redis", "docker.io/library/redis"),
        ("redis:latest", "docker.io/library/redis:latest"),
        (f"dmcgowan/myapp@sha256:{D}", f"docker.io/dmcgowan/myapp@sha256:{D}"),
        (D, f"sha256:{D}"),
        (f"sha256:{D}", f"sha256:{D}"),
        (D[:-1], f"docker.io/library/{D[:-1]}"),
        ("dbcc1", "docker.io/library/dbcc1"),
    ],
)
def test_parse_any(text: str, expected: str):
    result = parse_any(text)
    assert str(result) == expected
    assert isinstance(result, Digest) == expected.startswith("sha256:")


def test_image_id_detection():
    assert is_image_id(D) and is_image_id(f"sha256:{D}")
    assert not is_image_id("ubuntu") and not is_image_id(D[:12]) and not is_image_id("sha256:abc")
    assert is_short_id(D[:12]) and is_short_id(f"sha256:{D[:5]}") and not is_short_id("ubuntu")


def test_with_tag_and_invalid_tag():
    ref = parse_reference("test.com:8000/foo", default_tag=False)
    assert str(ref.with_tag("TAG5")) == "test.com:8000/foo:TAG5"
    with_digest = ref.with_digest(f"sha256:{D}").with_tag("t")
    assert str(with_digest) == f"test.com:8000/foo:t@sha256:{D}"
    for bad in ("-foo", ".x", "a" * 129, "", "a b"):
        with pytest.raises(InvalidArgument, match="invalid tag"):
            ref.with_tag(bad)


@pytest.mark.parametrize(
    "text,reason",
    [
        ("ubuntu:-bad", "invalid tag"),
        ("ubuntu:" + "a" * 129, "128 characters"),
        ("ubuntu@sha256:abc", "invalid digest"),
        ("ubuntu@md5:" + "a" * 32, "unsupported digest algorithm"),
        (f"ubuntu@sha256:{D.upper()}", "invalid digest"),
        ("ubuntu:", "invalid tag"),
        ("a//b", "empty path component"),
    ],
)
def test_reasons_name_the_bad_part(text: str, reason: str):
    with pytest.raises(InvalidArgument) as info:
        parse_reference(text)
    assert reason in str(info.value)
    assert text[:10] in str(info.value)  # the user's own spelling is shown


def test_registry_host_for_docker_hub():
    assert parse_reference("ubuntu").registry == "registry-1.docker.io"
    assert parse_reference("localhost:5000/x").registry == "localhost:5000"


def _grammar_result(text: str) -> tuple[str, str, str | None, str | None] | None:
    try:
        return reference._grammar_parts(text, text)
    except InvalidArgument:
        return None


def _reference_inputs() -> list[str]:
    """The cases above, their parts recombined, and random strings over the grammar's alphabet."""
    texts = [case[0] for case in GRAMMAR_OK + GRAMMAR_BAD] + VALID_NAMES + INVALID_NAMES
    texts += [case[0] for case in NORMALISED]
    domains = ["", "docker.io/", "localhost:5000/", "a-b.c:1/", "-a.com/", "a-.com/", "A.b/",
               "a..b/", "host:/", "host:5x/", "[::1]:5000/", "a_b.com/", "1.2.3.4:80/", "x/"]
    paths = ["ubuntu", "library/ubuntu", "a__b", "a___b", "a--b", "a.b", "a._b", "a-", "_a",
             "a//b", "Ab", "a/b/c.d-e_f", "a" * 300, "a\nb", "é"]
    tags = ["", ":latest", ":V1.2_x-y", ":", ":-x", ":.x", ":_x", ":" + "t" * 128, ":" + "t" * 129,
            ":a/b", ":a:b", ":x\n"]
    digests = ["", f"@sha256:{D}", f"@sha256:{D.upper()}", "@sha256:abc", f"@sha512:{F128}",
               "@", f"@sha256:{D}@x", f"@sha256:{D}\n"]
    texts += [d + p + t + g for d in domains for p in paths for t in tags for g in digests]
    rng = random.Random(6)
    alphabet = "ab0Z._-_/:@[]\n"
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(20000)]
    return texts


def test_plain_reading_agrees_with_the_grammar() -> None:
    answered = 0
    for text in _reference_inputs():
        plain = reference._plain_parts(text)
        if plain is not None:
            answered += 1
            assert plain == _grammar_result(text), text
    assert answered > 1000  # the plain reading does answer the common forms
    for text in ("ubuntu", "ubuntu:22.04", "docker.io/library/ubuntu:latest", "localhost:5000/a/b",
                 f"docker.io/library/redis@sha256:{D}", "192.168.1.1:5000/repo:5050"):
        assert reference._plain_parts(text) == _grammar_result(text) is not None


def test_plain_tag_and_id_checks_agree_with_the_grammar() -> None:
    rng = random.Random(7)
    alphabet = "aZ09_.-/ \n"
    words = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 4))) for _ in range(5000)]
    for tag in [*words, "t" * 128, "t" * 129, "latest\n", "Latest", "_x", ".x", "-x"]:
        matched = reference.grammar("tag").match(tag) is not None
        # the regex's `$` also lets a final newline pass; the plain check leaves that to it
        assert reference._is_tag(tag) == (matched and not tag.endswith("\n")), tag
    for text in [D, D + "\n", D[:-1], D.upper(), "x" + D, D + "0", f"sha256:{D}"]:
        assert reference._is_identifier(text) == bool(reference.grammar("identifier").match(text))
