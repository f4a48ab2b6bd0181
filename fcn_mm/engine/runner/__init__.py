"""Runner helpers: distributed setup, loops, samplers, checkpoint I/O."""
