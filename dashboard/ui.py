"""What every page shares, in one import: the server's state (server_state.py), who this browser
is (identity.py), which run a tab looks at (run_choice.py), its model (chosen_model.py), the
drawing canvas (canvas.py) and the side panel (sidebar.py).

A tab holds nothing but the id of the run it looks at (also in the page link as `?run=<id>`)
and the browser's token; runs, their jobs and their files belong to the server's registry.
"""

from __future__ import annotations

from dashboard.canvas import drawn_digit
from dashboard.chosen_model import ChosenModel, chosen_model
from dashboard.identity import ADMIN_KEY, admin_password, browser_token, may_change
from dashboard.run_choice import (
    RUN_KEY,
    RUN_PARAM,
    RunListing,
    choose_run,
    current_run,
    run_label,
    run_listing,
    sync_run_link,
)
from dashboard.server_state import (
    _registry,  # the test suite clears it between tests (its release hook stops every job)
    get_data,
    registry,
    runs_root,
    server_settings,
    warm_up_training,
)
from dashboard.sidebar import ordinal, render_sidebar

__all__ = [
    "ADMIN_KEY",
    "RUN_KEY",
    "RUN_PARAM",
    "ChosenModel",
    "RunListing",
    "_registry",
    "admin_password",
    "browser_token",
    "choose_run",
    "chosen_model",
    "current_run",
    "drawn_digit",
    "get_data",
    "may_change",
    "ordinal",
    "registry",
    "render_sidebar",
    "run_label",
    "run_listing",
    "runs_root",
    "server_settings",
    "sync_run_link",
    "warm_up_training",
]
