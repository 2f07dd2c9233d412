"""How the product talks to Asterisk.

The AMI link, framing, typed events, the call tracker and validated actions.

Nothing outside this package imports panoramisk.
"""
