"""Routes per role: auth, seat, dispatcher, qa, admin; pages and metrics."""
