"""Seats, queues and atomic routing on Redis, 多援一 overflow, live statistics."""
