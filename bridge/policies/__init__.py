"""Policies: who decides. All of them act only through the Toolbox."""
