"""Menu files (YAML); a package only so that they ship with the wheel."""
