"""Adapters to MongoDB and S3. Third-party errors are translated here, nowhere above."""
