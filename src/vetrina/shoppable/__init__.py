"""Product tags on videos, and the playback timeline the player reads on every play."""
