"""Orders: stock reserved on order, escrow on payment, shipping, confirmation, refunds, and their history."""
