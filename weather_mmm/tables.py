"""Small helpers for showing tables to people (terminal and Markdown)."""

from __future__ import annotations

import polars as pl


def markdown_table(frame: pl.DataFrame) -> str:
    """``frame`` as a GitHub-flavoured Markdown table, all rows."""
    with pl.Config(tbl_formatting="MARKDOWN", tbl_hide_column_data_types=True, tbl_hide_dataframe_shape=True,
                   tbl_rows=-1, tbl_cols=-1, tbl_width_chars=1000, fmt_str_lengths=200):
        return str(frame)


def text_table(frame: pl.DataFrame) -> str:
    """``frame`` as a plain terminal table, all rows and columns."""
    with pl.Config(tbl_formatting="ASCII_FULL_CONDENSED", tbl_hide_column_data_types=True,
                   tbl_hide_dataframe_shape=True, tbl_rows=-1, tbl_cols=-1, tbl_width_chars=1000, fmt_str_lengths=200):
        return str(frame)
