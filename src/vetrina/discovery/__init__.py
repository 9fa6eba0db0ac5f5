"""What search engines and other sites learn of Vetrina's videos, shows and products: schema.org structured data
(VideoObject with Clip key moments, Product with Offer, BroadcastEvent), the video sitemap, and oEmbed.

Its own layer, above `partners | live`: it reads media, shoppable tags, the catalogue, rights and live shows, and
none of them needs it, so it sits over all of them instead of inside one (`live` would have had to describe
videos that are not shows). Only the web layer uses it.
"""
