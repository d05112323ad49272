"""axe-core (the npm package) injected into a page open in Chromium: the WCAG 2.2 A and AA
rules run on what the browser shows. Installed, not committed: `npm install --prefix
tests/.node axe-core@4` (.ci/run does it); $AXE_CORE_JS may name another axe.min.js."""

from __future__ import annotations

import json
import os
from pathlib import Path

TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
INSTALLED = Path(__file__).resolve().parents[1] / ".node" / "node_modules" / "axe-core" / "axe.min.js"


def script() -> Path | None:
    """axe.min.js, where the tests find it; None when it is not installed."""
    path = Path(os.environ.get("AXE_CORE_JS", INSTALLED))
    return path if path.is_file() else None


async def check(page) -> dict:
    """Run axe on the page open now: {"violations": [{id, impact, help, nodes}], "passes": n,
    "incomplete": [ids], "version": ...}."""
    if not await page.evaluate("typeof axe !== 'undefined'"):
        await page.evaluate(script().read_text())
    options = json.dumps({"runOnly": {"type": "tag", "values": TAGS}})
    found = await page.run_async(
        f"axe.run(document, {options}).then(r => JSON.stringify({{version: r.testEngine.version, "
        "violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, "
        "nodes: v.nodes.map(n => n.target.join(' '))})), passes: r.passes.length, "
        "incomplete: r.incomplete.map(v => v.id)}))")
    return json.loads(found)
