"""Read path: the JSON analytics API (and, later, the web console) on :8080."""
