"""Auto-tagging: find catalogue products in a video's frames and propose time-coded, boxed tags."""
