"""Fuzzing the bundle reader: a real small bundle with bytes flipped, cut short or its
manifest's fields changed. Every outcome is a clean success or a clean refusal
(BundleError, a one-line report), never an internal error; verify and restore agree;
a refused restore creates nothing."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aimem import AimemError, AIMemory
from tests.reliability.bundle_helpers import archived_repository, read_members, write_members

_SMALL: dict[str, bytes] = {}


def _small_bundle() -> bytes:
    """Bytes of a bundle with a database, a knowledge base and one segment (built once)."""
    if "bundle" not in _SMALL:
        with tempfile.TemporaryDirectory() as work:
            repo = archived_repository(Path(work) / "A", count=40)
            with AIMemory(repo) as memory:
                _SMALL["bundle"] = Path(memory.backup(Path(work))["bundle"]).read_bytes()
    return _SMALL["bundle"]


FIELD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.sampled_from(["", "zstd", "none", "../x", "archive/../../x", "/etc/passwd", "a" * 64]),
    st.text(max_size=20),
)


@st.composite
def mutations(draw: st.DrawFn) -> tuple[str, Any]:
    kind = draw(st.sampled_from(["flip", "truncate", "field", "member"]))
    if kind == "flip":
        return kind, draw(
            st.lists(st.tuples(st.integers(0, 2**31), st.integers(1, 255)), min_size=1, max_size=8)
        )
    if kind == "truncate":
        return kind, draw(st.integers(0, 2**31))
    if kind == "field":
        key = draw(
            st.sampled_from(["name", "path", "compression", "size", "sha256", "stored_size"])
        )
        return kind, (draw(st.integers(0, 10)), key, draw(FIELD_VALUES))
    return kind, (draw(st.integers(0, 10)), draw(st.binary(max_size=64)))


def _mutate(data: bytes, mutation: tuple[str, Any], work: Path) -> bytes:
    kind, arg = mutation
    if kind == "flip":
        out = bytearray(data)
        for position, mask in arg:
            out[position % len(out)] ^= mask
        return bytes(out)
    if kind == "truncate":
        return data[: arg % len(data)]
    original = work / "original.tar"
    original.write_bytes(data)
    members = read_members(original)
    manifest = orjson.loads(members[0][1])
    index, value = arg[0] % len(manifest["members"]), arg[-1]
    if kind == "field":
        manifest["members"][index][arg[1]] = value
        members[0] = ("manifest.json", orjson.dumps(manifest))
    else:  # a member's content replaced
        slot = 1 + index % (len(members) - 1)
        members[slot] = (members[slot][0], value)
    return write_members(work / "mutated.tar", members).read_bytes()


@pytest.mark.slow
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(mutation=mutations())
def test_mutated_bundles_are_refused_cleanly_or_accepted(mutation: tuple[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        bundle = work / "bundle.tar"
        bundle.write_bytes(_mutate(_small_bundle(), mutation, work))
        report = AIMemory.verify_bundle(bundle)
        assert set(report) == {"bundle", "ok", "problems", "manifest"}
        assert report["ok"] == (report["problems"] == [])
        assert all("\n" not in line for line in report["problems"])
        target = work / "restored"
        try:
            AIMemory.restore_bundle(bundle, target)
        except AimemError as error:
            assert "\n" not in error.message
            assert not report["ok"], f"verify passed what restore refused: {error.message}"
            assert not target.exists()
            assert [p.name for p in work.iterdir() if p.name.startswith(".aimem-")] == []
        else:
            assert report["ok"], report["problems"]
            with AIMemory(target, create=False) as memory:
                assert memory.check().ok


def test_unmutated_small_bundle_round_trips() -> None:
    # The fuzz test's seed bundle is itself sound (a refusal of every example
    # would prove nothing).
    with tempfile.TemporaryDirectory() as folder:
        bundle = Path(folder) / "bundle.tar"
        bundle.write_bytes(_small_bundle())
        assert AIMemory.verify_bundle(bundle)["ok"]
        AIMemory.restore_bundle(bundle, Path(folder) / "restored")
