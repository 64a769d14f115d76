"""A sweep over the toy method of tests/toy_method.py, fast enough to run Algorithm 1 end to end in a test."""


def get_sweep(variant: str = "tiny") -> dict:
    return {
        "config": "tests/toy_config.py:tiny",
        "metric": "rec_loss",
        "overrides": ["--config.num_steps=4", "--config.eval_every=4", "--config.preview_every=0",
                      "--config.checkpoint_every=4", "--config.log_every=4"],
        "parameters": [["optim.gen_lr", [0.0, 0.003]], ["model.features", [4, 8]]],
    }
