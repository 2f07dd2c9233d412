"""漏话回拨: callback tasks, their claim and execution, and their figures."""
