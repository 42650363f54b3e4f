"""Where raw data comes from: each module fetches one source and hands back verified local files."""
