"""The simulated outside of a live shop for `vend hil`: the world, the ops team, the comparison."""
