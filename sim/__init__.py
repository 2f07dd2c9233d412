"""A PBX simulator that speaks AMI like Asterisk, for tests, benchmarks and the demo."""
