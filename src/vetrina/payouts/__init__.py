"""Merchants' money: one balance per currency (released sales and top-ups, less unbilled ad spend) and payouts."""
