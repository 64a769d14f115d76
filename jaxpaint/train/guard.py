"""Stops a run that has failed: NaN/Inf metrics, or a collapsed GAN.

The collapse test follows the thesis (§5.1): the discriminator loss falls to
about 0 and stays there while the generator's adversarial loss explodes. The
run stops once both hold for `patience` consecutive logged steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from jaxpaint.errors import JaxpaintError, TrainingStopped


@dataclass
class TrainingGuard:
    disc_loss_below: float = 1e-3
    adv_loss_above: float = 10.0
    patience: int = 10
    collapsed_for: int = 0

    @classmethod
    def from_config(cls, config) -> "TrainingGuard":
        """Thresholds from `config.guard` (any field may be left out)."""
        fields = dict(config.get("guard", {}) or {})
        unknown = set(fields) - {"disc_loss_below", "adv_loss_above", "patience"}
        if unknown:
            raise JaxpaintError(f"config.guard: unknown fields {sorted(unknown)}; known: disc_loss_below, adv_loss_above, patience")
        return cls(**fields)

    def check(self, step: int, metrics: dict[str, float], split: str = "train") -> None:
        bad = {k: v for k, v in metrics.items() if not math.isfinite(v)}
        if bad:
            names = ", ".join(f"{k}={v}" for k, v in sorted(bad.items()))
            raise TrainingStopped(f"{split} metrics at step {step} are not finite ({names}): training diverged")
        if "disc_loss" in metrics and "adv_loss" in metrics:
            collapsed = metrics["disc_loss"] < self.disc_loss_below and metrics["adv_loss"] > self.adv_loss_above
            self.collapsed_for = self.collapsed_for + 1 if collapsed else 0
            if self.collapsed_for >= self.patience:
                raise TrainingStopped(
                    f"the GAN collapsed at step {step}: disc_loss {metrics['disc_loss']:.3g} < {self.disc_loss_below} "
                    f"and adv_loss {metrics['adv_loss']:.3g} > {self.adv_loss_above} for {self.patience} logged steps "
                    "(the discriminator wins outright; lower its learning rate or raise the reconstruction weight)"
                )
