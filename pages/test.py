import streamlit as st

st.title("test")
st.info("Coming soon.")
