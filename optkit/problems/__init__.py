"""Problems (registry filled in separately)."""
