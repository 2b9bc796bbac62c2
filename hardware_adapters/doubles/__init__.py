"""Loopback doubles of the outside services the live shop talks to (Slack's Web API, Stripe's API and
its signed webhooks), speaking their wire format on 127.0.0.1. The tests use them, and so does
`vend hil`, which plays a simulated world through the live composition (bridge/compose/hil.py).
They are checked against the published API descriptions in ../shared/specs."""
