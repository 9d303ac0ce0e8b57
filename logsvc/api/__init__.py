"""HTTP surfaces. They only translate requests into calls on the service; no file or index access."""
