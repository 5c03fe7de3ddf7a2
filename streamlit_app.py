"""Entry point: `streamlit run streamlit_app.py`. Lists the pages and draws the shared sidebar.

The page files live in app_pages/, not pages/: Streamlit treats a folder named pages/ as the
old multipage layout until the entry script has run once, so a shared link to /train opened
first on a freshly started server would run that page without this shell.
"""

import streamlit as st

from dashboard.ui import render_sidebar, sync_run_link

st.set_page_config(page_title="Row-by-row RNN on MNIST", page_icon="🔢", layout="wide")

navigation = st.navigation(
    [
        st.Page("app_pages/explore.py", title="Explore", icon=":material/grid_view:", default=True),
        st.Page("app_pages/train.py", title="Train", icon=":material/model_training:"),
        st.Page("app_pages/runs.py", title="Runs", icon=":material/stacked_line_chart:"),
        st.Page("app_pages/sweep.py", title="Sweep", icon=":material/grid_on:"),
        st.Page("app_pages/test.py", title="Test", icon=":material/ink_pen:"),
        st.Page("app_pages/inside.py", title="Inside the LSTM", icon=":material/memory:"),
    ]
)
render_sidebar()
navigation.run()
sync_run_link()
