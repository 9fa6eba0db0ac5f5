"""Live shopping: shows a merchant streams over RTMP, sells in and replays (issue 19)."""
