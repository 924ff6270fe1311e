"""Hostile and careless input (issue 9): every case exits 2 for bad input (1 for a failed run)
with one ``error:`` line naming the key, file or value, and nothing allocates much memory,
hangs or runs user code. Limits are kept small (environment variables of optkit._limits)."""
