from typing import TypeAlias

BillLineItemGroup: TypeAlias = dict[str, str]
""" A map of string keys to str values. """
