"""Real human speech with exact transcripts, read from game data that Debian ships in main."""
