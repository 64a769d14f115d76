"""The XLA flags jaxpaint sets by default, and that a user's own value always wins."""

from __future__ import annotations

import os

import jaxpaint
from jaxpaint import DEFAULT_XLA_FLAGS, with_default_xla_flags

YNN = "--xla_cpu_experimental_ynn_fusion_type"


def test_defaults_are_added_to_empty_flags():
    assert with_default_xla_flags("") == f"{YNN}={DEFAULT_XLA_FLAGS[YNN]}"


def test_other_user_flags_are_kept_in_front():
    merged = with_default_xla_flags("--xla_force_host_platform_device_count=4  --xla_dump_to=/tmp/x")
    assert merged == f"--xla_force_host_platform_device_count=4  --xla_dump_to=/tmp/x {YNN}={DEFAULT_XLA_FLAGS[YNN]}"


def test_a_user_value_of_the_flag_is_never_overridden():
    for user in (f"{YNN}=", f"{YNN}=individual_convolution", f"--xla_cpu_use_thunk_runtime=true {YNN}=default"):
        assert with_default_xla_flags(user) == user


def test_merging_twice_changes_nothing():
    once = with_default_xla_flags("--xla_force_host_platform_device_count=2")
    assert with_default_xla_flags(once) == once


def test_importing_jaxpaint_set_the_flag():
    assert jaxpaint.__name__ == "jaxpaint"
    assert YNN in os.environ["XLA_FLAGS"]
