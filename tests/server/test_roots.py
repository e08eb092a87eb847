from __future__ import annotations

import os

import pytest

from dlpilot.errors import InvalidArgument, PathNotAllowed
from dlpilot.server._roots import Roots


def test_a_relative_path_resolves_inside_the_first_root(tmp_path):
    (tmp_path / "proj").mkdir()
    assert Roots([tmp_path]).resolve("proj") == (tmp_path / "proj").resolve()


def test_dot_dot_out_of_the_root_is_refused_and_named(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(PathNotAllowed, match=r"'\.\./elsewhere'"):
        Roots([root]).resolve("../elsewhere")


def test_a_symlink_pointing_outside_the_root_is_refused(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    os.symlink(outside, root / "link")
    with pytest.raises(PathNotAllowed, match="outside the allowed roots"):
        Roots([root]).resolve("link")


def test_an_absolute_path_inside_a_second_root_is_allowed(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    assert Roots([a, b]).resolve(str(b)) == b.resolve()


def test_a_root_that_is_not_a_directory_is_refused_by_name(tmp_path):
    with pytest.raises(InvalidArgument, match="nope"):
        Roots([tmp_path / "nope"])


def test_an_empty_path_is_refused(tmp_path):
    with pytest.raises(InvalidArgument, match="non-empty"):
        Roots([tmp_path]).resolve("  ")
