"""Mofang (模坊): an AI model factory — one order in, a gated and served model product out."""

__version__ = "0.1.0"
