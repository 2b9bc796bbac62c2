"""Slack: customers chat with the shopkeeper, ops staff do its physical work (see `bridge_app`)."""
