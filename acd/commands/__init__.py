"""Requests from API processes to a city's controller, and the controller's answers."""
