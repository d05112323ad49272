"""The jinja2 environment. Templates are plain text, one per audience, event and language:
<audience>/<event>.<lang>.txt.j2, e.g. resident/acknowledgement.en.txt.j2.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

DEFAULT_LANGUAGE = "en"


def packaged_templates() -> Path:
    """The copy installed inside the package (gateway/templates), else templates/ beside the
    package in a source checkout or an editable install."""
    package = Path(__file__).resolve().parent
    installed = package / "templates"
    return installed if (installed / "resident").is_dir() else package.parent / "templates"


def read_all(folders: list[str]) -> jinja2.DictLoader:
    """Every template of `folders` read now, into memory, the first folder's winning: a daemon
    renders what it read at start or at its last reload, even if the files go meanwhile (its
    package reinstalled under it, an administrator's edit half done)."""
    found: dict[str, str] = {}
    for folder in reversed(folders):
        for path in sorted(Path(folder).rglob("*.j2")):
            found[path.relative_to(folder).as_posix()] = path.read_text(encoding="utf-8")
    return jinja2.DictLoader(found)


class Renderer:
    """Renders templates from an administrator's folder first, then the packaged ones."""

    def __init__(self, override: Path | None = None):
        self.reload(override)

    def reload(self, override: Path | None = None) -> None:
        """Read the templates afresh (on SIGHUP): until then, a template edited on disk is not
        used, so an administrator's half-finished edit never reaches a resident (all are read
        here, at once: jinja2 would otherwise read each the first time it is used)."""
        folders = [str(override)] if override else []
        folders.append(str(packaged_templates()))
        self.env = jinja2.Environment(
            loader=read_all(folders), undefined=jinja2.StrictUndefined, auto_reload=False,
            autoescape=False, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)

    def render(self, name: str, language: str = DEFAULT_LANGUAGE, **context: object) -> str:
        """Render <name>.<language>.txt.j2, falling back to English when there is no translation."""
        try:
            template = self.env.get_template(f"{name}.{language}.txt.j2")
        except jinja2.TemplateNotFound:
            template = self.env.get_template(f"{name}.{DEFAULT_LANGUAGE}.txt.j2")
        return template.render(**context)


class PageRenderer:
    """Web pages (templates/web/<page>.html.j2), autoescaped: whatever a resident typed is
    shown as text, never as markup. The administrator's folder first, then the packaged one."""

    def __init__(self, override: Path | None = None):
        folders = ([str(override)] if override else []) + [str(packaged_templates())]
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(folders), undefined=jinja2.StrictUndefined,
                                      autoescape=True, trim_blocks=True, lstrip_blocks=True)

    def render(self, name: str, **context: object) -> str:
        """Render web/<name>.html.j2."""
        return self.env.get_template(f"web/{name}.html.j2").render(**context)
