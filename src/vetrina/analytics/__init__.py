"""What viewers do in the player: raw events now; rollups and dashboards come later."""
