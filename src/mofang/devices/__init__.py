"""The device management center (设备管理中心): what the factory runs on, how healthy it is, and where a
station's needs fit. The REST router (`mofang.devices.api`) and Prometheus gauges (`mofang.devices.metrics`)
are imported on their own, so the scheduler does not pull in FastAPI or prometheus_client."""

from mofang.core.resources import Needs
from mofang.devices.capacity import Capacity, Fit, NodeCapacity, assess, fits
from mofang.devices.health import Check, Thresholds, health, worst
from mofang.devices.inventory import CgroupLimits, Disk, Gpu, Node, cgroup_limits, inventory, local_node

__all__ = ["Capacity", "CgroupLimits", "Check", "Disk", "Fit", "Gpu", "Needs", "Node", "NodeCapacity",
           "Thresholds", "assess", "cgroup_limits", "fits", "health", "inventory", "local_node", "worst"]
