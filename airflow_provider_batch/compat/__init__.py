"""The original APIs (armada_client, armada, qarnot, apolo_sdk), one package each: change only the import prefix.

Built on the core (clients, hooks, operators, the trigger); the core never imports this package."""
