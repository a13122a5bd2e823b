"""Code every deployable shares: errors, middleware, health, metrics, logging, Redis and HTTP helpers."""

# Reported in X-Service-Version when SERVICE_VERSION is not set (images bake that in).
__version__ = "1.0.0"
