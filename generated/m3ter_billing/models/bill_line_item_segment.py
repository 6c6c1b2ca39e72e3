from typing import TypeAlias

BillLineItemSegment: TypeAlias = dict[str, str]
""" Applies only when segmented Aggregations have been used. The Segment to which the usage data in this line item
belongs. """
