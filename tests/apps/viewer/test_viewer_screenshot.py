from photoface.apps.viewer import screenshot


def test_without_chromium_the_figure_is_skipped_with_a_note(tmp_path, monkeypatch):
    monkeypatch.setattr(screenshot, "find_chromium", lambda: None)
    notes = []
    assert screenshot.write_viewer_figure(tmp_path / "viewer.png", log=notes.append) is None
    assert not (tmp_path / "viewer.png").exists()
    assert len(notes) == 1 and "no Chromium" in notes[0]
