"""The regimen catalogue of the synthetic registry: labels as written, agents, planned duration."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nenstudy.registry import schema
from nenstudy.synth.parameters import ParameterSet
from nenstudy.synth.sampling import DAYS_PER_MONTH, NEVER, categorical

__all__ = ["RegimenList", "Catalogue", "build_catalogue", "SURGERY", "RADIOTHERAPY", "PRRT"]

SURGERY = "Primary tumour resection"
RADIOTHERAPY = "Palliative radiotherapy"
PRRT = "Lu-177-DOTATATE"
_PRRT_AGENTS = "lutetium177_dotatate"


@dataclass(frozen=True)
class RegimenList:
    """One list of regimen options (e.g. first line of NEC) as arrays over its options."""

    probs: np.ndarray
    label: np.ndarray
    aliases: np.ndarray
    alias_count: np.ndarray
    agents: np.ndarray
    planned_days: np.ndarray

    def draw(self, rng: np.random.Generator, n: int, alias_share: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Draw ``n`` regimens; return (label index, agents index, planned days)."""
        option = categorical(rng, np.tile(self.probs, (n, 1)))
        count = self.alias_count[option]
        use_alias = (rng.random(n) < alias_share) & (count > 0)
        pick = np.floor(rng.random(n) * np.maximum(count, 1)).astype(np.int64)
        label = np.where(use_alias, self.aliases[option, pick], self.label[option])
        return label, self.agents[option], self.planned_days[option]


@dataclass(frozen=True)
class Catalogue:
    """All regimen lists, with the shared vocabularies of labels and agent lists."""

    labels: tuple[str, ...]
    agents: tuple[str, ...]
    lists: dict[str, RegimenList]

    def label_index(self, label: str) -> int:
        """Index of a fixed label (surgery, radiotherapy, PRRT)."""
        return self.labels.index(label)

    def agents_index(self, agents: str) -> int:
        """Index of a fixed agent list."""
        return self.agents.index(agents)


def build_catalogue(params: ParameterSet) -> Catalogue:
    """Build the regimen catalogue from the ``regimens.*`` parameters.

    Raises
    ------
    ValueError
        When an option names an agent outside the schema's agent list.
    """
    labels: list[str] = [SURGERY, RADIOTHERAPY, PRRT]
    agents: list[str] = [_PRRT_AGENTS]
    lists: dict[str, RegimenList] = {}

    def index(vocab: list[str], value: str) -> int:
        if value not in vocab:
            vocab.append(value)
        return vocab.index(value)

    for key in sorted(k for k in params.values if k.startswith("regimens.")):
        options = params[key]
        width = max(1, max(len(o["aliases"]) for o in options))
        alias = np.zeros((len(options), width), dtype=np.int64)
        for i, option in enumerate(options):
            unknown = set(option["agents"].split(";")) - set(schema.AGENTS)
            if unknown:
                raise ValueError(f"parameter {key}: {option['label']} names unknown agents {sorted(unknown)}")
            for j, name in enumerate(option["aliases"]):
                alias[i, j] = index(labels, name)
        lists[key.removeprefix("regimens.")] = RegimenList(
            probs=np.array([o["p"] for o in options], dtype=float),
            label=np.array([index(labels, o["label"]) for o in options]),
            aliases=alias,
            alias_count=np.array([len(o["aliases"]) for o in options]),
            agents=np.array([index(agents, o["agents"]) for o in options]),
            planned_days=np.array(
                [NEVER if o["months"] == 0 else int(round(o["months"] * DAYS_PER_MONTH)) for o in options],
                dtype=np.int64,
            ),
        )
    return Catalogue(tuple(labels), tuple(agents), lists)
