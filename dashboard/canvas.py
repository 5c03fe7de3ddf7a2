"""The drawing canvas: a digit drawn in the browser, as the 28x28 MNIST-style image a model reads."""

from __future__ import annotations

import streamlit as st
import torch

from rnn_core.preprocess import mnist_style

# ----- drawing a digit ----------------------------------------------------------------------

CANVAS_PX = 280
# Drawn at 25-85% of the 280 px canvas, a digit gets a pen of 20-6% of its height: the range the
# preprocessing is measured on (README, "Drawn digits and the pen's width").
BRUSH_PX = 14


def _next_canvas(round_key: str) -> None:
    st.session_state[round_key] += 1


def drawn_digit(key: str) -> torch.Tensor | None:
    """A canvas to draw one digit on, and a Clear button; the drawing as an MNIST-style
    28x28 image, or None while the canvas is empty."""
    # imported here: the component refuses to be imported outside a running app (pytest)
    from streamlit_drawable_canvas import st_canvas

    round_key = f"{key}_round"
    st.session_state.setdefault(round_key, 0)
    st.caption("Draw one digit, any size, anywhere in the square.")
    st.space("small")  # room for the canvas's toolbar, which floats above it
    drawing = st_canvas(
        stroke_width=BRUSH_PX,
        stroke_color="#ffffff",
        background_color="#000000",
        width=CANVAS_PX,
        height=CANVAS_PX,
        drawing_mode="freedraw",
        update_streamlit=True,
        return_image_data=True,
        key=f"{key}_{st.session_state[round_key]}",
    )
    # a new key gives a fresh, empty canvas; the click reruns the fragment it is in, or the page
    st.button("Clear", icon=":material/ink_eraser:", key=f"{key}_clear", on_click=_next_canvas, args=(round_key,))
    return mnist_style(drawing.image_data) if drawing.image_data is not None else None
