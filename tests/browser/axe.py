"""axe-core, run in the page by the browser tests: what it finds that a person would meet.

The script comes from `node_modules/` (`npm ci`, from package.json; `make test` runs it), never
from the network at test time.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser.server import REPO

AXE_SCRIPT = REPO / "node_modules" / "axe-core" / "axe.min.js"
# What keeps someone from using a page; "moderate" and "minor" are reported but do not fail.
BLOCKING = ("critical", "serious")


def axe_script() -> Path:
    if not AXE_SCRIPT.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{AXE_SCRIPT} is missing: `make test` installs it with npm ci")
        pytest.skip("the accessibility checks need axe-core: run `npm ci` (make test does)")
    return AXE_SCRIPT


def violations(page, impacts: tuple[str, ...] = BLOCKING) -> list[dict]:
    """axe-core's violations of `impacts` on the page as it is now: one dict per rule, with
    the rule, its impact, and a few of the offending elements."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(axe_script()))
    found = page.evaluate(
        """async () => {
            const result = await window.axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map(v => ({
                rule: v.id, impact: v.impact, help: v.help,
                where: v.nodes.slice(0, 4).map(n => n.target.join(" ") + ": " + n.failureSummary),
            }));
        }"""
    )
    return [violation for violation in found if violation["impact"] in impacts]


def described(found: list[dict]) -> str:
    return "\n".join(f"{v['impact']} {v['rule']} ({v['help']}):\n  " + "\n  ".join(v["where"]) for v in found)
