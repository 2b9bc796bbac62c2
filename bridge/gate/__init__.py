"""The rollout gate: a policy runs over seeded scenarios in simulation before it goes live."""
