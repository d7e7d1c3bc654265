"""distributor: article in, reviewed once, delivered exactly once by email and social networks."""

__version__ = "0.1.0"
