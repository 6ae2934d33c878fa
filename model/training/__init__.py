"""Training on a shared server: background jobs, the time and memory budget, long tasks with
progress."""
