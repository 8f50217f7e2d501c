"""Cleaning tools: values into their column's kind, canonical categories, outliers, missing values."""
