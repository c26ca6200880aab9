# The server harness (tools/kata_harness) gives every test real PostgreSQL, Redis and memcached.
pytest_plugins = ["kata_harness.plugin"]
