"""Config overrides (ml_collections.config_flags semantics) and the range table."""

from __future__ import annotations

import ml_collections
import pytest

from jaxpaint.config import RANGES, apply_overrides, check_config, dotted_keys, load_config, with_later_fields
from jaxpaint.errors import JaxpaintError


def base() -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict({
        "method": "context_encoder", "seed": 0, "batch_size": 4, "distributed": False,
        "data": {"dataset": "synthetic_64_seed0", "mean_rgb": (0.0, 0.1, -0.1), "image_size": 64},
        "loss": {"lambda_rec": 0.999, "overlap": 4}, "optim": {"learning_rate": 2e-4}, "extra": None,
    })


def test_values_are_parsed_for_the_field_type():
    config = apply_overrides(base(), [
        "--config.seed=3", "--config.distributed=true", "--config.data.dataset=123", "--config.loss.lambda_rec=1",
        "--config.data.mean_rgb=(1, 0, 0)", "--config.optim.learning_rate", "1e-3", "--config.extra=[1, 2]",
        "--config.method='holes'",
    ])
    assert config.seed == 3 and config.distributed is True
    assert config.data.dataset == "123"  # a string field keeps the text
    assert config.loss.lambda_rec == 1.0 and isinstance(config.loss.lambda_rec, float)
    assert config.data.mean_rgb == (1.0, 0.0, 0.0)
    assert config.optim.learning_rate == 1e-3  # the `--config.key value` form
    assert config.extra == [1, 2] and config.method == "holes"
    assert base().seed == 0  # the caller's config is not changed


@pytest.mark.parametrize("override,pattern", [
    ("--config.seed=1.5", r"field seed.*expected an int"),
    ("--config.seed=True", r"field seed.*expected an int"),
    ("--config.distributed=maybe", r"field distributed.*expected a bool"),
    ("--config.loss.lambda_rec=high", r"field loss.lambda_rec.*expected a number"),
    ("--config.data.mean_rgb=(1, 0)", r"field data.mean_rgb.*expected 3 values"),
    ("--config.loss=1", r"field loss.*group"),
    ("--config.loss.overlapp=1", r"no field 'loss.overlapp'; did you mean 'loss.overlap'"),
    ("--config.dat.image_size=1", r"no field 'dat.image_size'; did you mean 'data.image_size'"),
    ("--config.zzz=1", r"no field 'zzz'$"),
    ("seed=1", r"unexpected argument 'seed=1'"),
])
def test_bad_overrides_name_the_key(override, pattern):
    with pytest.raises(JaxpaintError, match=pattern):
        apply_overrides(base(), [override])


def test_dotted_keys_cover_groups_and_leaves():
    keys = dotted_keys(base())
    assert {"loss", "loss.overlap", "data.mean_rgb", "seed"} <= set(keys)


@pytest.mark.parametrize("key", sorted(RANGES))
def test_every_range_refuses_a_value_outside_it(key):
    kind, low, high = RANGES[key]
    config = ml_collections.ConfigDict({"method": "m"})
    parent = config
    *groups, leaf = key.split(".")
    for group in groups:
        parent[group] = ml_collections.ConfigDict()
        parent = parent[group]
    for bad in ([low - 1] if low is not None else []) + ([high + 1] if high is not None else []):
        parent[leaf] = int(bad) if kind == "int" else float(bad)
        with pytest.raises(JaxpaintError, match=key.replace(".", r"\.") + " = "):
            check_config(config)
    parent[leaf] = low if low is not None else high
    check_config(config)


@pytest.mark.parametrize("spec", ["context_encoder:tiny", "context_encoder:quick", "context_encoder:paper",
                                  "context_encoder:lspet", "hourglass:tiny", "hourglass:quick", "hourglass:small",
                                  "hourglass:full"])
def test_shipped_configs_are_in_range_and_take_the_readme_overrides(spec):
    config = load_config(spec, ["--config.distributed=True", "--config.batch_size=128"])
    assert config.distributed is True and config.batch_size == 128


def test_a_run_saved_before_a_model_field_existed_resumes_only_with_that_field_off(tmp_path):
    """config.json of an older run lacks model.pose_condition: resuming with it False is the same model,
    with it True another one (refused, naming the field)."""
    import json

    from jaxpaint.engine.checkpoint import save_config
    from jaxpaint.train.preflight import check_workdir

    config = load_config("unet:tiny")
    save_config(config, tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    del saved["model"]["pose_condition"]
    (tmp_path / "config.json").write_text(json.dumps(saved))
    check_workdir(config, tmp_path)
    with pytest.raises(JaxpaintError, match="model.pose_condition: None in the run, True in the config"):
        check_workdir(apply_overrides(config, ["--config.model.pose_condition=True"]), tmp_path)


def test_an_older_run_gains_the_later_fields_at_their_base_values_so_inference_can_set_them():
    """A run saved before model.flip_test and loss.ssim_weight existed reads them at the config file's
    base values (the behaviour it was trained with); the fields it saved keep its values."""
    config = load_config("unet:tiny")
    old = ml_collections.ConfigDict(config.to_dict())
    del old.model["flip_test"], old.loss["ssim_weight"]
    with pytest.raises(JaxpaintError, match="no field 'model.flip_test'"):
        apply_overrides(old, ["--config.model.flip_test=True"])
    upgraded = with_later_fields(old)
    assert upgraded.model.flip_test is False and upgraded.loss.ssim_weight == 0.0
    assert "flip_test" not in old.model  # the caller's config is not changed
    assert upgraded.to_dict() == config.to_dict()  # tiny's own values (width 2, 64 px) kept, not the base's
    assert apply_overrides(upgraded, ["--config.model.flip_test=True"]).model.flip_test is True
    assert upgraded.model.flip_test is False  # overrides change a copy, its groups included
    plain = ml_collections.ConfigDict({"method": "diffusion", "seed": 0})  # no config file: as it was
    assert with_later_fields(plain).to_dict() == plain.to_dict()
