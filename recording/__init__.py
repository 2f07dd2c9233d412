"""Recording policy, the recording index, audio conversion and retention."""
