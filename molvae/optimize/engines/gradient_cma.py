"""``gradient+cma``: gradient ascent on the property head for a share of the budget, then CMA-ES
runs that refine the best points found (a quarter of them) or explore from the prior (the rest)."""

from __future__ import annotations

from dataclasses import dataclass

from molvae.errors import ConfigError
from molvae.nn.codec import LatentCodec
from molvae.optimize.engines import cma, gradient
from molvae.optimize.objectives import Objective
from molvae.optimize.oracle import Oracle
from molvae.optimize.types import check_numbers


@dataclass(frozen=True)
class Settings:
    restarts: int | None = None  # starting points of the gradient and CMA-ES runs, per group
    steps: int = 60
    lr: float = 0.1
    prior_weight: float = 0.05
    sigma: float = 0.5
    popsize: int | None = None
    gradient_share: float = 0.25  # share of the budget for the gradient phase

    def __post_init__(self) -> None:
        check_numbers(self, numbers=("gradient_share",))
        self.gradient(), self.cma()  # each phase validates its own fields
        if not 0 < self.gradient_share < 1:
            raise ConfigError("gradient_share must be between 0 and 1")

    def gradient(self) -> gradient.Settings:
        return gradient.Settings(self.restarts, self.steps, self.lr, self.prior_weight)

    def cma(self) -> cma.Settings:
        return cma.Settings(self.restarts, self.sigma, self.popsize)


def check(codec: LatentCodec, objective: Objective) -> None:
    if not gradient.head_surrogate(codec, objective, "gradient+cma").complete:
        gradient.log.info(
            "the property head predicts only some terms; the gradient follows those, the score counts all"
        )


def run(oracle: Oracle, settings: Settings) -> None:
    gradient.ascend(oracle, settings.gradient(), int(oracle.total_budget * settings.gradient_share))
    cma.search(oracle, settings.cma(), oracle.total_budget - oracle.used(), refine=True)
