"""pytest plugin: run your own tests against any vcpcheck target.

    pytest --vcp-target v3 --vcp-config VFALLBACK_ALWAYS=n tests/my_test.py

Fixtures: ``vcp_target`` (the Target), ``vcp_config`` (the first
configuration of the target that builds, with --vcp-config applied),
``kernel`` (a booted Kernel of that build) and ``harness`` (a Harness, which
also keeps the callers' ledger and checks the invariants).  --vcp-target
takes a built-in name or a variant file; the default is ``reference``.
"""
from __future__ import annotations

import pytest


def pytest_addoption(parser):
    group = parser.getgroup("vcpcheck")
    group.addoption("--vcp-target", default="reference",
                    help="vcpcheck target (built-in name or variant .py) for the "
                         "kernel fixture")
    group.addoption("--vcp-config", action="append", default=[], metavar="KEY=VALUE",
                    help="Kconfig option for the kernel fixture (repeatable)")


@pytest.fixture
def vcp_target(request):
    from .variants import VariantError, resolve_target
    try:
        return resolve_target(request.config.getoption("--vcp-target"))
    except VariantError as e:
        raise pytest.UsageError(f"--vcp-target: {e}")


@pytest.fixture
def vcp_config(request, vcp_target):
    from .cli import UsageError, parse_config
    try:
        overrides = parse_config(request.config.getoption("--vcp-config"))
    except UsageError as e:
        raise pytest.UsageError(str(e))
    for cfg in vcp_target.configs(overrides):
        if vcp_target.try_build(cfg)[1] is None:
            return cfg
    raise pytest.UsageError(f"{vcp_target.name} builds under no configuration "
                            f"with {overrides}")


@pytest.fixture
def harness(vcp_target, vcp_config):
    from .harness import Harness
    return Harness(vcp_config, vcp_target.symbols(vcp_config), api=vcp_target.api)


@pytest.fixture
def kernel(harness):
    return harness.k
