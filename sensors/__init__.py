"""Jobs, schedules and sensors (automation), one module per concern."""
