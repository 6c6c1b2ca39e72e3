"""Contains all the data models used in inputs/outputs"""

from .bearer_access_token_request import BearerAccessTokenRequest
from .bearer_access_token_response import BearerAccessTokenResponse
from .bill_line_item import BillLineItem
from .bill_line_item_additional import BillLineItemAdditional
from .bill_line_item_group import BillLineItemGroup
from .bill_line_item_pricing_band_usage import BillLineItemPricingBandUsage
from .bill_line_item_segment import BillLineItemSegment
from .bill_response import BillResponse
from .bill_status import BillStatus
from .billing_frequency import BillingFrequency
from .currency_conversion import CurrencyConversion
from .error import Error
from .grant_type import GrantType
from .line_item_type import LineItemType
from .statement_job_filters import StatementJobFilters
from .statement_job_response import StatementJobResponse
from .statement_job_status import StatementJobStatus
from .statement_status import StatementStatus

__all__ = (
    "BearerAccessTokenRequest",
    "BearerAccessTokenResponse",
    "BillingFrequency",
    "BillLineItem",
    "BillLineItemAdditional",
    "BillLineItemGroup",
    "BillLineItemPricingBandUsage",
    "BillLineItemSegment",
    "BillResponse",
    "BillStatus",
    "CurrencyConversion",
    "Error",
    "GrantType",
    "LineItemType",
    "StatementJobFilters",
    "StatementJobResponse",
    "StatementJobStatus",
    "StatementStatus",
)
