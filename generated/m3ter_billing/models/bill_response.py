from __future__ import annotations

import datetime  # noqa: F401
from typing import Any  # noqa: F401

import msgspec

from .._model import M3terModel
from ..models.bill_line_item import BillLineItem
from ..models.bill_status import BillStatus
from ..models.billing_frequency import BillingFrequency
from ..models.currency_conversion import CurrencyConversion
from ..types import UNSET, Unset  # noqa: F401


class BillResponse(M3terModel, kw_only=True):
    """BillResponse"""

    id: str = msgspec.field(name="id")
    """ The UUID of the entity. """
    account_code: str | None | Unset = msgspec.field(name="accountCode", default=UNSET)
    account_id: str | None | Unset = msgspec.field(name="accountId", default=UNSET)
    approved_by: str | None | Unset = msgspec.field(name="approvedBy", default=UNSET)
    """ The id of the user who approved this bill. """
    bill_date: datetime.date | None | Unset = msgspec.field(name="billDate", default=UNSET)
    bill_frequency_interval: int | None | Unset = msgspec.field(name="billFrequencyInterval", default=UNSET)
    bill_job_id: str | None | Unset = msgspec.field(name="billJobId", default=UNSET)
    bill_total: float | None | Unset = msgspec.field(name="billTotal", default=UNSET)
    """ The sum total for the Bill. """
    billing_frequency: BillingFrequency | None | Unset = msgspec.field(name="billingFrequency", default=UNSET)
    """ Defines how often Bills are generated.

    * **Daily**. Starting at midnight each day, covering a twenty-four hour period following.

    * **Weekly**. Starting at midnight on a Monday morning covering the seven-day period following.

    * **Monthly**. Starting at midnight on the morning of the first day of each month covering the entire
    calendar month following.

    * **Annually**. Starting at midnight on the morning of the first day of each year covering the entire
    calendar year following.

    * **Ad_Hoc**. Use this setting when a custom billing schedule is used for billing an Account, such as for
    billing of Prepayment/Commitment fees using a custom billing schedule. """
    created_by: str | None | Unset = msgspec.field(name="createdBy", default=UNSET)
    """ The unique identifier (UUID) for the user who created the Bill. """
    created_date: datetime.datetime | None | Unset = msgspec.field(name="createdDate", default=UNSET)
    csv_statement_generated: bool | None | Unset = msgspec.field(name="csvStatementGenerated", default=UNSET)
    """ Flag to indicate that the statement in CSV format has been generated for the Bill.

    * **TRUE** - CSV statement has been generated.
    * **FALSE** - no CSV statement generated. """
    currency: str | None | Unset = msgspec.field(name="currency", default=UNSET)
    currency_conversions: list[CurrencyConversion] | None | Unset = msgspec.field(
        name="currencyConversions", default=UNSET
    )
    dt_approved: datetime.datetime | None | Unset = msgspec.field(name="dtApproved", default=UNSET)
    """ The DateTime when the bill was approved. """
    dt_created: datetime.datetime | None | Unset = msgspec.field(name="dtCreated", default=UNSET)
    """ The date and time *(in ISO 8601 format)* when the Bill was first created. """
    dt_last_modified: datetime.datetime | None | Unset = msgspec.field(name="dtLastModified", default=UNSET)
    """ The date and time *(in ISO 8601 format)* when the Bill was last modified. """
    dt_locked: datetime.datetime | None | Unset = msgspec.field(name="dtLocked", default=UNSET)
    """ The DateTime when the bill was locked. """
    due_date: datetime.date | None | Unset = msgspec.field(name="dueDate", default=UNSET)
    end_date: datetime.date | None | Unset = msgspec.field(name="endDate", default=UNSET)
    end_date_time_utc: datetime.datetime | None | Unset = msgspec.field(name="endDateTimeUTC", default=UNSET)
    external_invoice_date: datetime.date | None | Unset = msgspec.field(name="externalInvoiceDate", default=UNSET)
    """ For accounting purposes, the date set at Organization level to use for external invoicing with respect to
    billing periods - two options:
    * `FIRST_DAY_OF_NEXT_PERIOD` *(Default)*.
    * `LAST_DAY_OF_ARREARS`

    For example, if the retrieved Bill was on a monthly billing frequency and the billing period for the Bill is
    September 2023 and the *External invoice date* is set at `FIRST_DAY_OF_NEXT_PERIOD`, then the
    `externalInvoiceDate` will be `"2023-10-01"`.

    **NOTE:** To change the `externalInvoiceDate` setting for your Organization, you can use the [Update
    OrganizationConfig](https://www.m3ter.com/docs/api#tag/OrganizationConfig/operation/GetOrganizationConfig)
    call. """
    external_invoice_reference: str | None | Unset = msgspec.field(name="externalInvoiceReference", default=UNSET)
    """ The reference ID to use for external invoice. """
    json_statement_generated: bool | None | Unset = msgspec.field(name="jsonStatementGenerated", default=UNSET)
    """ Flag to indicate that the statement in JSON format has been generated for the Bill.

    * **TRUE** - JSON statement has been generated.
    * **FALSE** - no JSON statement generated. """
    last_calculated_date: datetime.datetime | None | Unset = msgspec.field(name="lastCalculatedDate", default=UNSET)
    last_modified_by: str | None | Unset = msgspec.field(name="lastModifiedBy", default=UNSET)
    """ The unique identifier (UUID) for the user who last modified this Bill. """
    line_items: list[BillLineItem] | None | Unset = msgspec.field(name="lineItems", default=UNSET)
    """ An array of the Bill line items. """
    locked: bool | None | Unset = msgspec.field(name="locked", default=UNSET)
    locked_by: str | None | Unset = msgspec.field(name="lockedBy", default=UNSET)
    """ The id of the user who locked this bill. """
    purchase_order_number: str | None | Unset = msgspec.field(name="purchaseOrderNumber", default=UNSET)
    """ Purchase Order number linked to the Account the Bill is for. """
    sequential_invoice_number: str | None | Unset = msgspec.field(name="sequentialInvoiceNumber", default=UNSET)
    """ The sequential invoice number of the Bill.

    **NOTE:** If you have not defined a `billPrefix` for your Organization, a `sequentialInvoiceNumber` is not
    returned in the response. See [Update
    OrganizationConfig](https://www.m3ter.com/docs/api#tag/OrganizationConfig/operation/UpdateOrganizationConfig) """
    start_date: datetime.date | None | Unset = msgspec.field(name="startDate", default=UNSET)
    start_date_time_utc: datetime.datetime | None | Unset = msgspec.field(name="startDateTimeUTC", default=UNSET)
    statement_stale: bool | None | Unset = msgspec.field(name="statementStale", default=UNSET)
    """ True if the existing bill statement (JSON or CSV) is marked as stale/outdated. """
    status: BillStatus | None | Unset = msgspec.field(name="status", default=UNSET)
    """ Indicates whether the Bill has passed human/manual approval.

    * **Pending** - Bill has not yet been passed by a human reviewer.
    * **Approved** - Bill has been approved after manual review. """
    timezone: str | None | Unset = msgspec.field(name="timezone", default=UNSET)
    version: int | None | Unset = msgspec.field(name="version", default=UNSET)
    """ The version number of the entity, an optimistic-locking counter:
    - **Create:** On initial Create to insert a new entity, the version is set at 1 in the response.
    - **Update:** On successful Update, the version is incremented by 1 in the response.

    Rule `version` (see contract_tests): the version is at least 1, never decreases between two reads of the
    same entity, and every change of content comes with a higher version. """
