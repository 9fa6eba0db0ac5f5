"""Money: the double-entry ledger, two-phase escrow, wallets and top-ups, idempotency keys, webhooks."""
