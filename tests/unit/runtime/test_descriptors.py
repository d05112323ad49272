"""The open-file limit the daemon asks for at start (gateway/runtime/descriptors.py)."""

import resource

from gateway.runtime.descriptors import target


def test_the_soft_limit_is_raised_only_as_far_as_needed_and_allowed():
    assert target(1024, 524288, 756) == 1024           # enough already
    assert target(1024, 524288, 5256) == 5256          # raised to what is needed
    assert target(256, 256, 756) == 256                # the hard limit is the end
    assert target(256, 600, 756) == 600
    assert target(256, resource.RLIM_INFINITY, 756) == 756
