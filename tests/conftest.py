"""Shared fixtures: small kernels built the way the checks build them."""
from __future__ import annotations

import pytest

from vcpcheck.impl.kconfig import Kconfig
from vcpcheck.impl.kernel import Kernel


def make_kernel(**options) -> Kernel:
    """A booted base kernel; 16 pages and MAX_ORDER 3 unless overridden."""
    values = dict(mem_pages=16, FORCE_MAX_ZONEORDER=3)
    values.update(options)
    return Kernel(Kconfig.make(**values))


ENCODINGS = [pytest.param(True, id="PG_head_tail"),
             pytest.param(False, id="compound_reclaim")]
ARCHES = ["x86_64", "i386"]


@pytest.fixture
def k():
    return make_kernel()


@pytest.fixture(params=ENCODINGS)
def k_enc(request):
    """A kernel for each page-flag encoding."""
    return make_kernel(PAGEFLAGS_EXTENDED=request.param)
