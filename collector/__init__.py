"""The composition root: configuration, wiring, lifecycle. The only package that knows every other one."""
