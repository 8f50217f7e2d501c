"""Customer service center: the order schema, intake (validation + admission) and status."""

from mofang.orders.intake import submit
from mofang.orders.loader import load_order, parse_order
from mofang.orders.schema import SUPPORTED_TASKS, Acceptance, Criterion, Order, Source, Task

__all__ = ["SUPPORTED_TASKS", "Acceptance", "Criterion", "Order", "Source", "Task", "load_order",
           "parse_order", "submit"]
