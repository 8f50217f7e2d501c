"""The customer service center: the REST API, the web portal and order notifications (`mofang portal`)."""

from mofang.portal.app import create_app

__all__ = ["create_app"]
