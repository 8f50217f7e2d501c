"""Integration workshop: package the winner as a served bundle with its model card."""

from mofang.integration.model_card import model_card
from mofang.integration.station import IntegrationWorkshop, input_schema

__all__ = ["IntegrationWorkshop", "input_schema", "model_card"]
