"""DynamoDB adapters (pynamodb) for the domain's repositories."""
