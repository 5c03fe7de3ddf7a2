"""Entry point: `streamlit run streamlit_app.py`. Lists the pages and draws the shared sidebar."""

import streamlit as st

from shared_ui import render_sidebar

st.set_page_config(page_title="Row-by-row RNN on MNIST", page_icon=":material/neurology:", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/explore.py", title="Explore", icon=":material/grid_view:", default=True),
        st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
        st.Page("pages/test.py", title="Test", icon=":material/ink_pen:"),
    ]
)
render_sidebar()
navigation.run()
