"""Product engineering center: delivery into the product registry and serving of product versions."""

from mofang.products.delivery import DeliveryStation
from mofang.products.serving import Bundle, create_app, load_bundle, open_bundle

__all__ = ["Bundle", "DeliveryStation", "create_app", "load_bundle", "open_bundle"]
