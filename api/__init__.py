"""FastAPI: routes per role, auth, live streams and the web pages. Holds no state of its own."""
