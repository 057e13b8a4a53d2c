"""X12 transaction sets → canonical documents (domain.md section B), one module per set."""
