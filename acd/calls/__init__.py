"""The life of a call on record: call records, transfers and the outbound-number guard."""
