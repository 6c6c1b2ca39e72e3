from __future__ import annotations

import datetime  # noqa: F401
from typing import Any  # noqa: F401

import msgspec

from .._model import M3terModel
from ..models.bill_line_item_additional import BillLineItemAdditional
from ..models.bill_line_item_group import BillLineItemGroup
from ..models.bill_line_item_pricing_band_usage import BillLineItemPricingBandUsage
from ..models.bill_line_item_segment import BillLineItemSegment
from ..models.line_item_type import LineItemType
from ..types import UNSET, Unset  # noqa: F401


class BillLineItem(M3terModel, kw_only=True):
    """BillLineItem"""

    average_unit_price: float = msgspec.field(name="averageUnitPrice")
    """ The average unit price across all tiers / pricing bands. """
    conversion_rate: float = msgspec.field(name="conversionRate")
    """ The currency conversion rate if currency conversion is required for the line item. """
    converted_subtotal: float = msgspec.field(name="convertedSubtotal")
    """ The converted subtotal amount if currency conversions have been used. """
    currency: str = msgspec.field(name="currency")
    """ The currency code for the currency used in the line item. For example: USD, GBP, or EUR. """
    description: str = msgspec.field(name="description")
    """ Line item description. """
    line_item_type: LineItemType = msgspec.field(name="lineItemType")
    """ See [Bill Line Item
    Types](https://www.m3ter.com/docs/guides/running-viewing-and-managing-bills/bill-line-item-types) for more
    information. """
    quantity: float = msgspec.field(name="quantity")
    """ The amount of usage for the line item. """
    subtotal: float = msgspec.field(name="subtotal")
    """ The subtotal amount for the line item, before any currency conversions. """
    unit: str = msgspec.field(name="unit")
    """ The unit for the usage data in thie line item. For example: **GB** of disk storage space. """
    units: float = msgspec.field(name="units")
    """ The number of units used for the line item. """
    accounting_product_code: str | None | Unset = msgspec.field(name="accountingProductCode", default=UNSET)
    accounting_product_id: str | None | Unset = msgspec.field(name="accountingProductId", default=UNSET)
    accounting_product_name: str | None | Unset = msgspec.field(name="accountingProductName", default=UNSET)
    additional: BillLineItemAdditional | None | Unset = msgspec.field(name="additional", default=UNSET)
    aggregation_id: str | None | Unset = msgspec.field(name="aggregationId", default=UNSET)
    """ The Aggregation ID used for the line item. """
    balance_id: str | None | Unset = msgspec.field(name="balanceId", default=UNSET)
    charge_id: str | None | Unset = msgspec.field(name="chargeId", default=UNSET)
    child_account_code: str | None | Unset = msgspec.field(name="childAccountCode", default=UNSET)
    """ If part of a Parent/Child account billing hierarchy, this is the code for the child Account. """
    child_account_id: str | None | Unset = msgspec.field(name="childAccountId", default=UNSET)
    """ If part of a Parent/Child account billing hierarchy, this is the child Account UUID. """
    commitment_id: str | None | Unset = msgspec.field(name="commitmentId", default=UNSET)
    """ If Commitments *(prepayments)* are used in the line item, this shows the Commitment UUID. """
    compound_aggregation_id: str | None | Unset = msgspec.field(name="compoundAggregationId", default=UNSET)
    """ The Compound Aggregation ID for the line item if a Compound Aggregation has been used. """
    contract_id: str | None | Unset = msgspec.field(name="contractId", default=UNSET)
    """ The UUID for the Contract used in the line item. """
    counter_id: str | None | Unset = msgspec.field(name="counterId", default=UNSET)
    credit_type_id: str | None | Unset = msgspec.field(name="creditTypeId", default=UNSET)
    group: BillLineItemGroup | None | Unset = msgspec.field(name="group", default=UNSET)
    id: str | None | Unset = msgspec.field(name="id", default=UNSET)
    """ The UUID for the line item. """
    meter_id: str | None | Unset = msgspec.field(name="meterId", default=UNSET)
    """ The UUID of the Meter used in the line item. """
    plan_group_id: str | None | Unset = msgspec.field(name="planGroupId", default=UNSET)
    """ The UUID of the PlanGroup, provided the line item used a PlanGroup. """
    plan_id: str | None | Unset = msgspec.field(name="planId", default=UNSET)
    """ The ID of the Plan used for the line item. """
    pricing_id: str | None | Unset = msgspec.field(name="pricingId", default=UNSET)
    """ The UUID of the Pricing used on the line item. """
    product_code: str | None | Unset = msgspec.field(name="productCode", default=UNSET)
    product_id: str | None | Unset = msgspec.field(name="productId", default=UNSET)
    """ The UUID of the Product for the line item. """
    product_name: str | None | Unset = msgspec.field(name="productName", default=UNSET)
    """ The name of the Product for the line item. """
    reason_id: str | None | Unset = msgspec.field(name="reasonId", default=UNSET)
    referenced_bill_id: str | None | Unset = msgspec.field(name="referencedBillId", default=UNSET)
    referenced_line_item_id: str | None | Unset = msgspec.field(name="referencedLineItemId", default=UNSET)
    segment: BillLineItemSegment | None | Unset = msgspec.field(name="segment", default=UNSET)
    """ Applies only when segmented Aggregations have been used. The Segment to which the usage data in this line
    item belongs. """
    sequence_number: int | None | Unset = msgspec.field(name="sequenceNumber", default=UNSET)
    """ The number used for sequential invoices. """
    service_period_end_date: datetime.datetime | None | Unset = msgspec.field(
        name="servicePeriodEndDate", default=UNSET
    )
    """ The ending date *(exclusive)* for the service period *(in ISO 8601 format)*. """
    service_period_start_date: datetime.datetime | None | Unset = msgspec.field(
        name="servicePeriodStartDate", default=UNSET
    )
    """ The starting date *(inclusive)* for the service period *(in ISO 8601 format)*. """
    usage_per_pricing_band: list[BillLineItemPricingBandUsage] | None | Unset = msgspec.field(
        name="usagePerPricingBand", default=UNSET
    )
    """ Shows the usage by pricing band for tiered pricing structures. """
