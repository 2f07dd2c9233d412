"""Developer tools run from the Makefile (not shipped with the product)."""
