"""Building images: the build context, cache keys, the stage planner and the step executor."""
