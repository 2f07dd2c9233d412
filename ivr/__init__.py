"""The IVR: the menu as data, its compiler to Asterisk dialplan, prompts, and the controller side
of menu decisions (pure functions: this package talks to neither Redis nor the database)."""
