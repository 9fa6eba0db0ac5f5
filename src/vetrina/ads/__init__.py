"""The ad marketplace: campaigns, decisioning, and VAST 4 / VMAP in and out."""
