"""The web UI: Django templates over the customers, products and invoices APIs (through the gateway)."""
