"""The original `armada_client` message package of the same path, mapped onto this provider's generated modules."""
