from .._enum import OpenStrEnum


class BillingFrequency(OpenStrEnum):
    """Defines how often Bills are generated.

    * **Daily**. Starting at midnight each day, covering a twenty-four hour period following.

    * **Weekly**. Starting at midnight on a Monday morning covering the seven-day period following.

    * **Monthly**. Starting at midnight on the morning of the first day of each month covering the entire calendar
    month following.

    * **Annually**. Starting at midnight on the morning of the first day of each year covering the entire calendar
    year following.

    * **Ad_Hoc**. Use this setting when a custom billing schedule is used for billing an Account, such as for
    billing of Prepayment/Commitment fees using a custom billing schedule.

    Open enum: values m3ter adds later parse too, with ``is_known`` False."""

    AD_HOC = "AD_HOC"
    ANNUALLY = "ANNUALLY"
    DAILY = "DAILY"
    MIXED = "MIXED"
    MONTHLY = "MONTHLY"
    WEEKLY = "WEEKLY"
