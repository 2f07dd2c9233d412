"""Tickets (工单), their lifecycle, the department directory and working-day deadlines."""
