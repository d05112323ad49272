"""Issue 25, item 2: a daemon's templates are read when it starts (or reloads), all of them,
so that its package reinstalled under it (the README's test command once did, into the same
virtual environment: `TemplateNotFound: 'team/held.en.txt.j2'` in the daemon) cannot make a
template it has not used yet go missing, nor half-change one."""

from __future__ import annotations

import shutil

from gateway.render import Renderer


def test_templates_not_yet_used_are_rendered_as_they_were_read_after_the_files_change(tmp_path):
    folder = tmp_path / "templates"
    (folder / "team").mkdir(parents=True)
    (folder / "team" / "ours.en.txt.j2").write_text("Held: {{ reference }}\n")
    (folder / "team" / "later.en.txt.j2").write_text("{% include 'team/part.en.txt.j2' %} {{ reference }}\n")
    (folder / "team" / "part.en.txt.j2").write_text("Part of")
    renderer = Renderer(folder)
    shutil.rmtree(folder)   # the package reinstalled (or removed) under the running daemon
    assert renderer.render("team/ours", reference="SRG-2026-0001") == "Held: SRG-2026-0001\n"
    assert renderer.render("team/later", reference="SRG-2026-0002") == "Part of SRG-2026-0002\n"
    # the packaged templates were read too: an administrator's folder only adds to them
    assert "SRG-2026-0003" in renderer.render("resident/acknowledgement", reference="SRG-2026-0003", team_name="T",
                                              resident_name="Ann", due_date="Friday 4 December 2026")
