"""Content partners: catalogues delivered in bulk as MRSS or CSV feeds, imported unattended."""
