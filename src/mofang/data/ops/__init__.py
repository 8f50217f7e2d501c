"""Data operators (tools): strict params, Arrow tables in and out, a trace of what each did."""

from mofang.data.ops.base import PROCESSES, ROW, OpContext, Operator, OpParams, OpTrace, RecipeError
from mofang.data.ops.registry import operator_class, operators, register

__all__ = ["PROCESSES", "ROW", "OpContext", "OpParams", "OpTrace", "Operator", "RecipeError", "operator_class",
           "operators", "register"]
