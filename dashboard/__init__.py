"""The Streamlit dashboard's own layer: the server's shared state (registry, browser token,
run picker), the settings panel, and the tables and charts the pages draw.

`rnn_core` never imports from here; the pages in `app_pages/` import from both.
"""
