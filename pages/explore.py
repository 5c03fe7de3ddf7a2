import streamlit as st

st.title("explore")
st.info("Coming soon.")
