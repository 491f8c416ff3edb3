"""Tests of figure rendering: the PNG encoder and sharing the figures with a helper process."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from nenstudy.report.figures import FigureJob, KMSeries, flow_figure, km_figure, render_figures
from nenstudy.report.figures.png import encode_png


def _decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_png_of_an_opaque_raster_is_rgb_with_the_same_pixels():
    rng = np.random.default_rng(1)
    rgba = rng.integers(0, 256, (37, 53, 4), dtype=np.uint8)
    rgba[:, :, 3] = 255
    image = _decode(encode_png(rgba, 300))
    assert image.mode == "RGB"
    assert np.array_equal(np.asarray(image), rgba[:, :, :3])


def test_png_keeps_alpha_when_a_pixel_is_transparent():
    rgba = np.full((8, 5, 4), 255, dtype=np.uint8)
    rgba[2, 3] = (10, 20, 30, 0)
    image = _decode(encode_png(rgba, 300))
    assert image.mode == "RGBA"
    assert np.array_equal(np.asarray(image), rgba)


def test_png_stores_its_resolution():
    image = _decode(encode_png(np.full((4, 4, 4), 255, dtype=np.uint8), 300))
    assert round(image.info["dpi"][0]) == 300 and round(image.info["dpi"][1]) == 300


def test_png_encoder_refuses_a_non_rgba_array():
    with pytest.raises(ValueError, match="uint8"):
        encode_png(np.zeros((4, 4, 3), dtype=np.uint8), 300)


def _jobs(results_dict):
    jobs = [FigureJob("flow", flow_figure, {"attrition": results_dict["attrition"]})]
    for name, block in results_dict["stratified"]["os"].items():
        series = [KMSeries(level, g) for level, g in block["groups"].items()]
        jobs.append(FigureJob(f"km_{name}", km_figure, {"series": series, "xlabel": "t", "ylabel": "s"}))
    return jobs


def test_helper_process_writes_the_same_files_as_the_caller(tmp_path, results_dict):
    serial = render_figures(_jobs(results_dict), tmp_path / "serial", parallel=False)
    shared = render_figures(_jobs(results_dict), tmp_path / "shared", parallel=True)
    assert list(shared) == list(serial)
    for key in serial:
        assert shared[key].png.read_bytes() == serial[key].png.read_bytes()
        assert shared[key].svg_inline == serial[key].svg_inline


def test_an_error_in_the_helper_is_raised_in_the_caller(tmp_path, results_dict):
    jobs = _jobs(results_dict)
    broken = FigureJob("broken", km_figure, {"series": [], "xlabel": "t", "ylabel": "s"})
    with pytest.raises(ValueError, match="at least one curve"):
        render_figures([broken, *jobs], tmp_path, parallel=True)  # the helper takes the front of the queue


def test_duplicate_figure_keys_are_refused(tmp_path, results_dict):
    job = _jobs(results_dict)[0]
    with pytest.raises(ValueError, match="unique"):
        render_figures([job, job], tmp_path, parallel=False)


def test_caller_renders_everything_when_the_helper_dies(tmp_path, results_dict, monkeypatch):
    import subprocess
    import sys

    from nenstudy.report.figures import render

    def dead_helper():
        return subprocess.Popen([sys.executable, "-c", "pass"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    monkeypatch.setattr(render, "_start_helper", dead_helper)
    jobs = _jobs(results_dict)
    made = render_figures(jobs, tmp_path, parallel=True)
    assert list(made) == [job.key for job in jobs]
    assert all(f.png.stat().st_size > 0 and f.svg.stat().st_size > 0 for f in made.values())
