"""One router per resource: users, styles, songs, jobs."""
