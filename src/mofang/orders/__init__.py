"""Customer service center: the order schema (what a customer can ask for) and loading an order file.
Admission (sources readable, the task's intake checks) is `mofang.scheduling.admission`."""

from mofang.orders.loader import load_order, parse_order
from mofang.orders.schema import Acceptance, Criterion, Order, Source

__all__ = ["Acceptance", "Criterion", "Order", "Source", "load_order", "parse_order"]
