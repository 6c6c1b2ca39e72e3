from typing import Any, TypeAlias

BillLineItemAdditional: TypeAlias = dict[str, Any]
""" A map of string keys to Any values. """
