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
    repeat: np.ndarray
    """Per option: whether it may follow a line of the same agents (a rechallenge, a higher
    dose); ``repeat = true`` in the parameters."""

    def draw(self, rng: np.random.Generator, n: int, alias_share: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Draw ``n`` regimens; return (label index, agents index, planned days)."""
        return self.draw_options(rng, n, alias_share)[1:]

    def draw_options(self, rng: np.random.Generator, n: int, alias_share: float
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Draw ``n`` regimens; return (option, label index, agents index, planned days)."""
        option = categorical(rng, np.tile(self.probs, (n, 1)))
        count = self.alias_count[option]
        use_alias = (rng.random(n) < alias_share) & (count > 0)
        pick = np.floor(rng.random(n) * np.maximum(count, 1)).astype(np.int64)
        label = np.where(use_alias, self.aliases[option, pick], self.label[option])
        return option, label, self.agents[option], self.planned_days[option]

    def draw_after(self, rng: np.random.Generator, retry: np.random.Generator | None,
                   previous_agents: np.ndarray, previous_labels: np.ndarray,
                   alias_share: float, tries: int = 20
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Draw the regimens of lines following lines of ``previous_agents`` (written as
        ``previous_labels``); return (label index, agents index, planned days).

        A regimen that gave the same agents as the line before (on which the disease
        progressed) is drawn again, from ``retry`` (a stream of its own, so that ``rng``
        advances as without it), unless its option may repeat and the line before was not
        that option already (one rechallenge, one dose increase); after ``tries`` draws the
        last stands.
        """
        option, label, agents, planned = self.draw_options(rng, len(previous_agents), alias_share)
        if retry is None:
            return label, agents, planned
        for _ in range(tries):
            again = np.flatnonzero((agents == previous_agents) & (
                ~self.repeat[option] | (self.label[option] == previous_labels)))
            if not len(again):
                break
            drawn = self.draw_options(retry, len(again), alias_share)
            option[again], label[again], agents[again], planned[again] = drawn
        return label, agents, planned


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
            repeat=np.array([bool(o.get("repeat", False)) for o in options]),
        )
    return Catalogue(tuple(labels), tuple(agents), lists)
