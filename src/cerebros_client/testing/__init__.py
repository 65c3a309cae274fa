"""Stand-in coordinator that speaks the Thunderline API, for tests and demos."""
