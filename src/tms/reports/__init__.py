"""Reports (SPEC §10): figures read from daily rollups kept up to date from the history."""
