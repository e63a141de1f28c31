import json

import gpu_results as R
import pytest

from support.gpu_bench_fakes import JUNIT, SYNTH_STDOUT, TRAIN_STDOUT, evaluation, metrics_lines, throughput


def test_pytest_report_gives_each_outcome_and_the_first_message_line(tmp_path):
    xml = tmp_path / "pytest.xml"
    xml.write_text(JUNIT)
    got = R.read_pytest(xml)
    assert [t["outcome"] for t in got["tests"]] == ["passed", "failed", "skipped"]
    assert got["counts"] == {"passed": 1, "failed": 1, "error": 0, "skipped": 1}
    assert got["tests"][1]["message"] == "AssertionError: (0, 'photometric', 0.2, 0.1)"
    assert got["tests"][0]["test"].endswith("::test_chebconv_on_cuda_matches_cpu_values_and_gradients")
    assert got["tests"][1]["seconds"] == pytest.approx(3.1)
    (tmp_path / "empty.xml").write_text("<testsuites><testsuite/></testsuites>")
    with pytest.raises(ValueError, match="no test cases"):
        R.read_pytest(tmp_path / "empty.xml")


def test_synth_line_counts_and_rate():
    got = R.read_synth("some progress\n" + SYNTH_STDOUT, 12.0)
    assert got == {"photos": 1200, "identities": 200, "train_photos": 1020, "test_photos": 180, "labeled": 510,
                   "photos_per_s": 100.0}
    with pytest.raises(ValueError):
        R.read_synth("Traceback ...", 3.0)


def test_training_numbers_skip_the_warm_up_window_and_take_the_step_losses(tmp_path):
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in metrics_lines()) + "\n")
    got = R.read_training(tmp_path, TRAIN_STDOUT)
    assert got["steps"] == 810 and got["stage"] == 2 and got["stopped_by"] == "time_limit"
    assert got["images_per_s"] == pytest.approx(241.5)  # median of 202..281 (241 with window 1's 50 kept)
    assert (got["first_total"], got["last_total"]) == (1.535, 0.712)
    (tmp_path / "metrics.jsonl").write_text("")
    with pytest.raises(ValueError, match="no records"):
        R.read_training(tmp_path, TRAIN_STDOUT)


def test_evaluation_headlines_average_settings_and_weight_photos():
    got = R.read_evaluation_data(evaluation())
    assert (got["identities"], got["photos"], got["step"]) == (30, 180, 812)
    model = got["methods"]["model"]
    assert model["shape_identity_mm"] == pytest.approx(1.5)
    assert model["shape_identity_sem_mm"] == pytest.approx(0.3 / 30 ** 0.5)
    assert model["photo_mm"] == pytest.approx(3.3)
    assert model["nme"] == pytest.approx(0.05) and model["eer"] == 0.3
    assert got["methods"]["mean_face"]["eer"] is None
    with pytest.raises(ValueError, match="model"):
        R.read_evaluation_data({"meta": {}, "mean_face": {}})


def test_throughput_speedups_are_against_fp32_nchw_stage_1():
    got = R.read_throughput_data(throughput())
    speed = [c["speedup_vs_fp32_nchw"] for c in got["cases"]]
    assert speed[:3] == pytest.approx([2.5, 1.25, 1.0]) and speed[3] is None
    no_ref = throughput()
    no_ref["cases"] = no_ref["cases"][:2]
    assert all(c["speedup_vs_fp32_nchw"] is None for c in R.read_throughput_data(no_ref)["cases"])
    with pytest.raises(ValueError):
        R.read_throughput_data({"cases": []})
