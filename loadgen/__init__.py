"""What drives the simulated PBX (sim/) from outside: traffic, operators, scripted scenarios.

The traffic generator (callers arriving, seat operators answering), simulated operators
working through the seat HTTP API, and the captures' scenarios replayed by a recording AMI
client. sim/ is a PBX only; everything that plays a citizen, a seat or a client is here.
"""
