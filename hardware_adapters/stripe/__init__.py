"""Stripe: StripePayments (Payments and CardSessions ports), webhooks, reconciliation."""
