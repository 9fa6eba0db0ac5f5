"""Distribution rights: which distributor may show a title where, when, and for what use."""
