"""Mofang (模坊): an AI model factory — one order in, a gated and served model product out."""

from mofang.core import moved

__version__ = "0.1.0"

moved.install()  # products delivered before a module moved still load (their pickles name the old paths)
