import json

from photoface.cli import build_parser, main


def test_app_commands_parse():
    p = build_parser()
    a = p.parse_args(["reconstruct", "x.jpg", "dir", "--checkpoint", "RUN", "--out", "O", "--batch-size", "3",
                      "--aligned"])
    assert a.images == ["x.jpg", "dir"] and a.batch_size == 3 and a.aligned and a.detector == "mediapipe"
    a = p.parse_args(["transfer", "s.png", "t1.png", "t2.png", "--checkpoint", "RUN", "--out", "O", "--meshes"])
    assert a.source == "s.png" and a.targets == ["t1.png", "t2.png"] and a.meshes
    a = p.parse_args(["verify", "A", "B", "--checkpoint", "RUN", "--threshold", "0.4"])
    assert (a.a, a.b, a.threshold) == ("A", "B", 0.4)
    a = p.parse_args(["demo", "--out", "D", "--minutes", "30"])
    assert a.minutes == 30.0 and a.identities == 200
    for cmd in ("reconstruct", "transfer", "verify", "demo"):
        assert callable(p.parse_args([cmd, *{"reconstruct": ["x", "--checkpoint", "R", "--out", "O"],
                                             "transfer": ["s", "t", "--checkpoint", "R", "--out", "O"],
                                             "verify": ["a", "b", "--checkpoint", "R"],
                                             "demo": ["--out", "O"]}[cmd]]).handler)


def test_cli_reconstruct_and_verify_end_to_end(tiny_run, tmp_path, capsys):
    img = tiny_run["data"] / "img"
    rc = main(["reconstruct", str(img / "006_0.png"), "--checkpoint", str(tiny_run["run"]), "--out",
               str(tmp_path), "--aligned", "--quiet"])
    assert rc == 0 and "reconstructed 1 face from 1 photo into" in capsys.readouterr().out
    assert len(json.loads((tmp_path / "006_0.json").read_text())["codes"]["identity"]) == 16

    run = str(tiny_run["run"])
    rc = main(["verify", str(img / "006_0.png"), str(img / "006_0.png"), "--checkpoint", run, "--aligned"])
    err = capsys.readouterr().err
    assert rc == 1 and "no calibrated threshold" in err and "--threshold" in err
    rc = main(["verify", str(img / "006_0.png"), str(img / "006_0.png"), "--checkpoint", run, "--aligned",
               "--threshold", "0.9"])
    assert rc == 0 and "same person" in capsys.readouterr().out

    rc = main(["reconstruct", str(img / "006_0.png"), "--checkpoint", str(tmp_path / "nothing"), "--out",
               str(tmp_path / "o2"), "--aligned"])
    assert rc == 1 and "no such run folder, checkpoint or model file" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists()
