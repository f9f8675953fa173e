"""The processor chain caches member resolutions by IdentityResolver.key(): two points may share a resolution
only when every attribute resolve() reads agrees, else two people would be merged into one member."""

from __future__ import annotations

import ast
import inspect
import textwrap

from pdata import Member, Sender
from processors.identity import IDENTITY_ATTRIBUTES, DirectoryEntry, IdentityResolver


def test_resolve_reads_no_attribute_the_key_leaves_out() -> None:
    source = textwrap.dedent(inspect.getsource(IdentityResolver.resolve))
    read = {
        node.args[0].value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "attribute"
        and isinstance(node.args[0], ast.Constant)
    }
    assert read == set(IDENTITY_ATTRIBUTES)


def test_points_differing_in_any_identity_attribute_get_different_keys_and_members() -> None:
    resolver = IdentityResolver({"u-9": DirectoryEntry("dana@example.com", "email", "team-d")})
    base: dict[str, str] = {}
    members: dict[tuple[str, ...], Member] = {}
    for name in IDENTITY_ATTRIBUTES:
        attributes = {**base, name: "u-9" if name == "user.id" else f"{name}-value"}
        members[resolver.key(attributes, {})] = resolver.resolve(attributes, {}, Sender())
    assert len(members) == len(IDENTITY_ATTRIBUTES)  # one key per attribute set
    assert len(set(members.values())) == len(IDENTITY_ATTRIBUTES)  # and each resolved to another member


def test_the_resource_is_read_when_the_point_lacks_the_attribute() -> None:
    resolver = IdentityResolver()
    on_point = resolver.key({"user.email": "a@example.com"}, {})
    on_resource = resolver.key({}, {"user.email": "a@example.com"})
    assert on_point == on_resource
    assert resolver.resolve({}, {"user.email": "a@example.com"}, Sender()) == Member("a@example.com", "email", "", "")


def test_the_key_reads_every_identity_attribute_in_order_from_the_point_then_the_resource() -> None:
    named = {name: f"{name}!" for name in IDENTITY_ATTRIBUTES}
    expected = tuple(f"{name}!" for name in IDENTITY_ATTRIBUTES)
    assert IdentityResolver.key(named, {}) == expected
    assert IdentityResolver.key({}, named) == expected
    assert IdentityResolver.key({}, {}) == ("",) * len(IDENTITY_ATTRIBUTES)
