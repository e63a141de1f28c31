import json

import bench_learning


def test_results_of_parallel_ladder_processes_merge_instead_of_overwriting(tmp_path):
    path = tmp_path / "ladder.json"
    # two rung-4 processes started from the same (empty) file, each with its own ablation
    bench_learning.merge_results(path, {"machine": "a", "rung4": {"no_adv": {"step": 10}}})
    bench_learning.merge_results(path, {"machine": "b", "rung3": {"step": 5}, "rung4": {"no_recog": {"step": 11}}})
    merged = json.loads(path.read_text())
    assert merged["rung4"] == {"no_adv": {"step": 10}, "no_recog": {"step": 11}}
    assert merged["rung3"] == {"step": 5} and merged["machine"] == "b"
    # a rerun of one ablation replaces only that one
    bench_learning.merge_results(path, {"rung4": {"no_adv": {"step": 12}}})
    assert json.loads(path.read_text())["rung4"] == {"no_adv": {"step": 12}, "no_recog": {"step": 11}}
    assert [p.name for p in tmp_path.iterdir()] == ["ladder.json"]
