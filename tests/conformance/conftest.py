"""Fixtures for the conformance library's tests.

One JVM per process, started once for the whole pytest session and never
shut down (jpype cannot start a second one).  The JVM hosts one live spec at
a time, so these tests load their models one after another.
"""

from __future__ import annotations

import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TOY = os.path.join(HERE, "toy")
REPO = os.path.dirname(os.path.dirname(HERE))
SPEC = os.path.join(REPO, "spec")


@pytest.fixture(scope="session")
def jvm():
    from conformance.jvm import start_jvm

    return start_jvm()


@pytest.fixture(scope="session")
def toy_dir() -> str:
    return TOY


def toy(name: str) -> str:
    return os.path.join(TOY, name + ".cfg")
