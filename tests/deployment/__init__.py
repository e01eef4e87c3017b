"""Deployment tests: the production stack (nginx, gunicorn, PostgreSQL, Redis) as real processes."""
