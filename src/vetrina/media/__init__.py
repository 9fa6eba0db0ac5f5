"""Video intake: probe and validate, transcode once into an adaptive HLS ladder, posters, seek thumbnails."""
