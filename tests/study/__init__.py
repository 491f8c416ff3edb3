"""Tests of the study engine (nenstudy.study)."""
