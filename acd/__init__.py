"""Who talks to whom: seats, queues and atomic routing on Redis, 多援一 overflow, statistics."""
