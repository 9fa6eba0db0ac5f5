"""The studio: merchants turn product photos and copy into finished, shoppable video spots."""
