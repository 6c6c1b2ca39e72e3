"""The contract harness: the stateful m3ter sandbox, the documented rules and the conformance check."""
