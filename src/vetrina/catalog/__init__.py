"""Merchants' products: prices, stock (per variant where there are variants) and images."""
