"""Study engine: cohort steps, endpoints and analyses from a study definition."""
