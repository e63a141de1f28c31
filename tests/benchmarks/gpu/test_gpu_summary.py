from gpu_summary import render_summary, write_summary

from support.gpu_bench_fakes import results


def _section(text: str, title: str) -> str:
    start = text.index(title)
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def test_a_finished_run_shows_device_software_and_every_number():
    text = render_summary(results())
    assert "NVIDIA H200 (compute capability 9.0, 139.8 GiB, 132 multiprocessors); driver 580.159.04" in text
    assert "torch 2.11.0+cu130 (CUDA 13.0, cuDNN 91300)" in text and "run finished" in text
    throughput = _section(text, "## `paper`-preset training throughput")
    assert "| bf16 | channels_last | 1 | 48 | 0.200 | 240.0 | 266.7 | 20.50 | 2.50 | yes |" in throughput
    assert "| fp32 | NCHW | 1 | 48 | 0.500 | 96.0 |" in throughput
    train = _section(text, "## Training")
    assert "| demo | 1.42 | 812 | 2 | 241.0 | time_limit | 1.535 → 0.712 | 0 |" in train
    ev = _section(text, "## Held-out evaluation")
    assert "| demo | 30 / 180 | 812 | network (ours) | 1.50 ± 0.05 | 3.30 | 5.0 | 0.300 |" in ev
    assert "| demo | 30 / 180 | 812 | mean face | 1.70 ± 0.05 | 3.80 | 16.0 | – |" in ev
    synth = _section(text, "## Synthetic collections")
    assert "| demo | builtin:demo | 128 | 1200 | 200 | 1020 / 180 | 510 | 12.0 | 100.0 |" in synth
    assert "# train_demo\nphotoface train --preset demo" in _section(text, "## Commands")


def test_a_partial_run_says_what_stopped_and_leaves_missing_tables_out():
    text = render_summary(results(full=False))
    assert "did not finish" in text
    phases = _section(text, "## Phases")
    assert "| throughput | failed | 9 | – | RuntimeError: CUDA error: out of memory |" in phases
    assert "| train_paper | running | – | 140 |" in phases
    assert "training throughput" not in text and "## Held-out evaluation" not in text
    assert "## Training" in text  # the demo run finished before the stop


def test_an_empty_record_still_renders_and_the_file_is_replaced_whole(tmp_path):
    assert render_summary({"meta": {}, "phases": {}}).startswith("# photoface on a GPU")
    (tmp_path / "summary.md").write_text("old")
    path = write_summary(results(), tmp_path)
    assert path.read_text().startswith("# photoface on a GPU")
    assert [p.name for p in tmp_path.iterdir()] == ["summary.md"]
