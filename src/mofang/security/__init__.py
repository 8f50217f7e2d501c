"""The security center (安全中心): tenant keys and encryption at rest, identities and roles, the audit chain,
retention and certified destruction."""
