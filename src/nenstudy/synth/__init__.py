"""A simulated NEN multidisciplinary-team registry for demos, tests and benchmarks.

``write_registry(out_dir, seed=, scale=, fmt=)`` writes a registry source folder (one file per
table of :mod:`nenstudy.registry.schema`); ``generate_registry(seed, scale)`` returns the
tables in memory. Parameters, each with its source, are in ``parameters.toml``.
"""

from nenstudy.synth.generator import generate_registry, iter_blocks, n_patients, write_registry
from nenstudy.synth.parameters import load_parameters

__all__ = ["generate_registry", "iter_blocks", "load_parameters", "n_patients", "write_registry"]
