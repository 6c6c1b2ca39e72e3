from __future__ import annotations

import datetime  # noqa: F401
from typing import Any  # noqa: F401

import msgspec

from .._model import M3terModel
from ..models.statement_job_filters import StatementJobFilters
from ..models.statement_job_status import StatementJobStatus
from ..models.statement_status import StatementStatus
from ..types import UNSET, Unset  # noqa: F401


class StatementJobResponse(M3terModel, kw_only=True):
    """StatementJobResponse"""

    id: str = msgspec.field(name="id")
    """ The UUID of the entity. """
    bill_id: str | None | Unset = msgspec.field(name="billId", default=UNSET)
    """ The unique identifier (UUID) of the bill associated with the StatementJob. """
    created_by: str | None | Unset = msgspec.field(name="createdBy", default=UNSET)
    """ The unique identifier (UUID) of the user who created this StatementJob. """
    csv_statement_status: StatementStatus | None | Unset = msgspec.field(name="csvStatementStatus", default=UNSET)
    dt_created: datetime.datetime | None | Unset = msgspec.field(name="dtCreated", default=UNSET)
    """ The date and time *(in ISO-8601 format)* when the StatementJob was created. """
    dt_last_modified: datetime.datetime | None | Unset = msgspec.field(name="dtLastModified", default=UNSET)
    """ The date and time *(in ISO-8601 format)* when the StatementJob was last modified. """
    filters: StatementJobFilters | None | Unset = msgspec.field(name="filters", default=UNSET)
    include_csv_format: bool | None | Unset = msgspec.field(name="includeCsvFormat", default=UNSET)
    """ A Boolean value indicating whether the generated statement includes a CSV format.

    * TRUE - includes the statement in CSV format.
    * FALSE - no CSV format statement. """
    json_statement_status: StatementStatus | None | Unset = msgspec.field(name="jsonStatementStatus", default=UNSET)
    last_modified_by: str | None | Unset = msgspec.field(name="lastModifiedBy", default=UNSET)
    """ The unique identifier (UUID) of the user who last modified this StatementJob. """
    org_id: str | None | Unset = msgspec.field(name="orgId", default=UNSET)
    """ The unique identifier (UUID) of your Organization. The Organization represents your company as a direct
    customer of our service. """
    presigned_csv_statement_url: str | None | Unset = msgspec.field(name="presignedCsvStatementUrl", default=UNSET)
    presigned_json_statement_url: str | None | Unset = msgspec.field(name="presignedJsonStatementUrl", default=UNSET)
    """ The URL to access the generated statement in JSON format. This URL is temporary and has a limited lifetime. """
    statement_job_status: StatementJobStatus | None | Unset = msgspec.field(name="statementJobStatus", default=UNSET)
    """ The current status of the StatementJob. The status helps track the progress and outcome of a StatementJob. """
    version: int | None | Unset = msgspec.field(name="version", default=UNSET)
    """ The version number of the entity, an optimistic-locking counter:
    - **Create:** On initial Create to insert a new entity, the version is set at 1 in the response.
    - **Update:** On successful Update, the version is incremented by 1 in the response.

    Rule `version` (see contract_tests): the version is at least 1, never decreases between two reads of the
    same entity, and every change of content comes with a higher version. """
