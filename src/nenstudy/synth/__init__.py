"""A simulated NEN multidisciplinary-team registry for demos, tests and benchmarks."""
